"""Run (or, with --dry-run, only show) today's retention run of one portal."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from compliance.retention.run import run_begin, run_preview, run_progress, run_step
from integrator.models import Portal


class Command(BaseCommand):
    help = "Destroy a portal's leads that are due today; --dry-run shows what and why"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("member_id")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        portal = Portal.objects.filter(member_id=options["member_id"]).first()
        if portal is None:
            raise CommandError("no portal with that member_id")

        if options["dry_run"]:
            preview = run_preview(portal=portal)
            for verdict in [*preview.destroy, *preview.flag, *preview.notice]:
                due = verdict.due_at.date().isoformat() if verdict.due_at else "-"
                self.stdout.write(
                    f"lead#{verdict.lead_id} {verdict.action} "
                    f"class={verdict.data_class} due={due} why={verdict.reason}"
                )
            for verdict in preview.hold:
                self.stdout.write(f"lead#{verdict.lead_id} held why=legal_hold")
            for lead_id in preview.purge:
                self.stdout.write(f"lead#{lead_id} archive destroyed why=grace_ended")
            self.stdout.write(f"dry run: {preview.summary()}")
            return

        run = run_begin(portal=portal, run_date=timezone.localdate())
        if run is None:
            self.stdout.write("skipped (already running/done)")
            return
        while run_step(run_id=run.pk).more:
            pass
        run.refresh_from_db()
        counts = " ".join(f"{k}={v}" for k, v in run_progress(run).items() if v)
        self.stdout.write(f"run {run.pk} {run.status}: {counts or 'nothing due'}")

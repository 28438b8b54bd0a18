"""Write a portal's journal export bundle to a file (for journals too big for HTTP)."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from compliance.export import ExportFilters, journal_export
from compliance.journal import Actor
from integrator.models import Portal


def _day(value: str) -> date:
    return date.fromisoformat(value)


def _start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class Command(BaseCommand):
    help = "Export a portal's access journal as a verifiable bundle (zip)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("member_id")
        parser.add_argument("path", help="where to write the .zip")
        parser.add_argument("--from", dest="date_from", type=_day, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", type=_day, help="YYYY-MM-DD")
        parser.add_argument("--user", type=int)
        parser.add_argument("--lead", type=int)
        parser.add_argument("--action")
        parser.add_argument(
            "--operator-id", type=int, default=None, help="Bitrix24 user id, if any"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        portal = Portal.objects.filter(member_id=options["member_id"]).first()
        if portal is None:
            raise CommandError("no portal with that member_id")
        end = options["date_to"]
        filters = ExportFilters(
            date_from=_start(options["date_from"]) if options["date_from"] else None,
            date_to=_start(end + timedelta(days=1)) if end else None,
            user_id=options["user"],
            lead_id=options["lead"],
            action=options["action"],
        )
        actor = Actor(kind="system", role="operator", user_id=options["operator_id"])

        with open(options["path"], "wb") as out:
            summary = journal_export(
                portal=portal, actor=actor, out=out, filters=filters
            )
        self.stdout.write(
            f"journal_export: {summary.entries} entries "
            f"(seq {summary.first_seq}..{summary.last_seq}), "
            f"export journaled as entry {summary.export_seq}"
        )

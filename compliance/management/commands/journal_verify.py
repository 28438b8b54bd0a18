"""Verify one portal's access journal and name the first broken entry."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.journal import verify_chain
from integrator.models import Portal


class Command(BaseCommand):
    help = "Recompute a portal's journal chain; exit status 1 if it is broken"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("member_id")

    def handle(self, *args: Any, **options: Any) -> None:
        portal = Portal.objects.filter(member_id=options["member_id"]).first()
        if portal is None:
            raise CommandError("no portal with that member_id")

        result = verify_chain(portal)
        if not result.ok:
            raise CommandError(
                f"journal BROKEN at entry {result.first_broken_seq}: {result.reason} "
                f"({result.entries} entries verified before it)"
            )
        self.stdout.write(
            f"journal OK: {result.entries} entries, {result.checkpoints} checkpoints"
        )

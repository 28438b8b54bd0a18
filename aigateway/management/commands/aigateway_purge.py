"""Delete the mappings of AI gateway dialogs that expired."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from aigateway.dialogs import dialogs_purge


class Command(BaseCommand):
    help = "Delete expired dialog mappings (--dry-run to count them)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        count = dialogs_purge(batch=options["batch"], dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"aigateway_purge: {verb} {count} expired dialog mappings")

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sandbox.seed import DEMO_LEADS, seed_demo


class Command(BaseCommand):
    help = "Create the demo salon portal with its users, app registration and leads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, default=DEMO_LEADS)

    def handle(self, *args: Any, **options: Any) -> None:
        portal, created = seed_demo(leads=options["leads"])
        total = portal.leads.count()
        self.stdout.write(
            f"sandbox_seed: portal «{portal.title}», {created} leads created, "
            f"{total} in total"
        )

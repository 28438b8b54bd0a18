"""Issue a journal API token to a Bitrix24 user of a portal (shown once)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance import roles
from compliance.journal import Actor
from integrator.models import Portal


class Command(BaseCommand):
    help = "Issue an API token to an auditor or admin of a portal; prints it once"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("member_id")
        parser.add_argument("b24_user_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        portal = Portal.objects.filter(member_id=options["member_id"]).first()
        if portal is None:
            raise CommandError("no portal with that member_id")
        user_id: int = options["b24_user_id"]
        if not roles.user_roles(portal=portal, b24_user_id=user_id) & (
            roles.JOURNAL_READERS
        ):
            raise CommandError("the user is neither an auditor nor an admin")

        token = roles.api_token_issue(
            portal=portal, b24_user_id=user_id, actor=Actor.system("operator")
        )
        self.stdout.write(token)

"""Stop (or resume) the AI gateway for one client of a portal."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aigateway.consent_gate import client_block, client_unblock, valid_client_ref
from aigateway.models import BlockedClient
from compliance.journal import Actor
from integrator.models import Portal


class Command(BaseCommand):
    help = "Block a client (e.g. lead:1043) from the AI gateway, or --unblock"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("member_id")
        parser.add_argument("client_ref")
        parser.add_argument(
            "--reason",
            choices=BlockedClient.Reason.values,
            default=BlockedClient.Reason.CONSENT_WITHDRAWN,
        )
        parser.add_argument("--unblock", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        portal = Portal.objects.filter(member_id=options["member_id"]).first()
        if portal is None:
            raise CommandError("no portal with that member_id")
        client_ref: str = options["client_ref"]
        if not valid_client_ref(client_ref):
            raise CommandError("the client reference must look like lead:1043")

        actor = Actor.system("operator")
        if options["unblock"]:
            changed = client_unblock(portal=portal, client_ref=client_ref, actor=actor)
            self.stdout.write(
                f"{client_ref}: {'unblocked' if changed else 'not blocked'}"
            )
        else:
            changed = client_block(
                portal=portal,
                client_ref=client_ref,
                reason=options["reason"],
                actor=actor,
            )
            self.stdout.write(
                f"{client_ref}: {'blocked' if changed else 'already blocked'}"
            )

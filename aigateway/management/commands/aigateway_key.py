"""Issue, revoke or list a portal's AI gateway keys (a new key is shown once)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aigateway.keys import api_key_issue, api_key_revoke
from aigateway.models import ApiKey
from compliance.journal import Actor
from integrator.models import Portal

OPERATOR = Actor.system("operator")


class Command(BaseCommand):
    help = "AI gateway keys: issue (prints the key once), revoke, list"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        issue = sub.add_parser("issue")
        issue.add_argument("member_id")
        issue.add_argument("--label", default="")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("member_id")
        revoke.add_argument(
            "prefix", help="the prefix shown by list, e.g. pdn_Ab12Cd34"
        )
        listing = sub.add_parser("list")
        listing.add_argument("member_id")

    def handle(self, *args: Any, **options: Any) -> None:
        portal = Portal.objects.filter(member_id=options["member_id"]).first()
        if portal is None:
            raise CommandError("no portal with that member_id")

        if options["action"] == "issue":
            issued, key = api_key_issue(
                portal=portal, label=options["label"], actor=OPERATOR
            )
            self.stderr.write(f"key {issued.prefix}… issued; it is not shown again")
            self.stdout.write(key)
        elif options["action"] == "revoke":
            # The whole key works as well as its listed prefix.
            prefix = options["prefix"].rstrip("…")[:12]
            found = list(ApiKey.objects.filter(portal=portal, prefix=prefix))
            if len(found) != 1:
                raise CommandError(f"{len(found)} keys have that prefix")
            if api_key_revoke(api_key=found[0], actor=OPERATOR):
                self.stdout.write(f"key {found[0].prefix}… revoked")
            else:
                self.stdout.write(f"key {found[0].prefix}… was already revoked")
        else:
            for row in ApiKey.objects.filter(portal=portal).order_by("pk"):
                state = "revoked" if row.revoked_at else "active"
                used = row.last_used_at.isoformat() if row.last_used_at else "never"
                self.stdout.write(
                    f"{row.prefix}…\t{state}\tlast used {used}\t{row.label}"
                )

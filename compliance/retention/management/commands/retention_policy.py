"""Show or change one portal's retention policy."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.retention.policy import policy_for
from integrator.models import Portal

FIELDS = ("unconverted_months", "notice_days", "grace_days")


class Command(BaseCommand):
    help = "Show a portal's retention policy; --enable/--disable and periods change it"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("member_id")
        parser.add_argument("--enable", action="store_true")
        parser.add_argument("--disable", action="store_true")
        for name in FIELDS:
            parser.add_argument(f"--{name.replace('_', '-')}", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        portal = Portal.objects.filter(member_id=options["member_id"]).first()
        if portal is None:
            raise CommandError("no portal with that member_id")
        policy = policy_for(portal)
        if options["enable"] or options["disable"]:
            policy.enabled = bool(options["enable"])
        for name in FIELDS:
            if options.get(name) is not None:
                setattr(policy, name, options[name])
        try:
            policy.full_clean()
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        policy.save()
        self.stdout.write(
            f"enabled={policy.enabled} unconverted_months={policy.unconverted_months} "
            f"notice_days={policy.notice_days} grace_days={policy.grace_days}"
        )

"""Register an AI vendor as a portal's processor, or update its registration."""

import os
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aigateway.models import Upstream
from aigateway.upstreams import upstream_register
from compliance.journal import Actor
from integrator.models import Portal


class Command(BaseCommand):
    help = (
        "Register an OpenAI-compatible AI vendor for a portal; the vendor's key "
        "is read from the environment variable named by --api-key-env"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("member_id")
        parser.add_argument("--code", required=True, help="e.g. yandexgpt")
        parser.add_argument("--name", required=True)
        parser.add_argument("--base-url", required=True, help="…/v1")
        parser.add_argument(
            "--model",
            action="append",
            required=True,
            metavar="ALIAS=VENDOR_MODEL",
            help="a model integrations ask for and the vendor's name for it",
        )
        parser.add_argument("--country", default="RU")
        parser.add_argument(
            "--agreement-date", type=date.fromisoformat, help="поручение, YYYY-MM-DD"
        )
        parser.add_argument(
            "--cross-border-notice-date",
            type=date.fromisoformat,
            help="date of the notice to Roskomnadzor, YYYY-MM-DD",
        )
        parser.add_argument("--yandex", action="store_true")
        parser.add_argument(
            "--auth-scheme",
            choices=Upstream.AuthScheme.values,
            default=Upstream.AuthScheme.BEARER,
        )
        parser.add_argument("--api-key-env", default="", metavar="VARIABLE")
        parser.add_argument("--timeout", type=int, default=60)

    def handle(self, *args: Any, **options: Any) -> None:
        portal = Portal.objects.filter(member_id=options["member_id"]).first()
        if portal is None:
            raise CommandError("no portal with that member_id")
        model_map = {}
        for item in options["model"]:
            alias, sep, vendor_model = item.partition("=")
            if not sep or not alias or not vendor_model:
                raise CommandError("--model takes ALIAS=VENDOR_MODEL")
            model_map[alias] = vendor_model
        api_key = ""
        if options["api_key_env"]:
            api_key = os.environ.get(options["api_key_env"], "")
            if not api_key:
                raise CommandError("the --api-key-env variable is empty")

        try:
            upstream = upstream_register(
                portal=portal,
                code=options["code"],
                name=options["name"],
                base_url=options["base_url"],
                model_map=model_map,
                api_key=api_key,
                country=options["country"],
                processor_agreement_at=options["agreement_date"],
                cross_border_notice_at=options["cross_border_notice_date"],
                is_yandex=options["yandex"],
                auth_scheme=options["auth_scheme"],
                timeout_seconds=options["timeout"],
                actor=Actor.system("operator"),
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error

        refusal = upstream.refusal()
        state = f"refused: {refusal}" if refusal else "ready"
        self.stdout.write(
            f"vendor {upstream.code} ({upstream.country}) models "
            f"{', '.join(sorted(model_map))}: {state}"
        )

"""Re-seal stored secrets under the current master key version.

Run after putting a new key first in ``PDN_MASTER_KEYS`` and keeping the old
ones after it. Each registered step re-seals one kind of value per portal:
here the portal's OAuth tokens; the original phones in the lead field
``UF_CRM_PDN_ORIGINAL_PHONE`` are re-sealed by the step that the Bitrix24
side registers (``compliance.vault.register_rotation_step``), using
``vault.reseal_phone``. Pseudonyms are not re-keyed: they carry the version
that made them, and ``vault.pseudonyms`` gives every version for look-ups.
Once a run reports nothing left to re-seal, the old key can be removed.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from b24app import crypto
from compliance import vault
from compliance.journal import Actor, journal_record
from integrator.models import Portal


class Command(BaseCommand):
    help = "Re-seal stored secrets under the current master key (--dry-run to count)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--portal", help="only this member_id")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        portals = Portal.objects.order_by("pk")
        if options["portal"]:
            portals = portals.filter(member_id=options["portal"])
        steps = vault.rotation_steps()
        version = crypto.current_version()

        total = 0
        for portal in portals.iterator():
            with transaction.atomic():
                counts = {name: step(portal, dry_run) for name, step in steps.items()}
                resealed = sum(counts.values())
                if resealed and not dry_run:
                    journal_record(
                        portal=portal,
                        action="vault.keys.rotated",
                        actor=Actor.system(),
                        details={
                            "key_version": version,
                            "resealed": resealed,
                            "steps": sorted(name for name, n in counts.items() if n),
                        },
                    )
            total += resealed

        verb = "would re-seal" if dry_run else "re-sealed"
        self.stdout.write(
            f"rotate_keys: {verb} {total} values under key v{version} "
            f"({len(steps)} steps)"
        )

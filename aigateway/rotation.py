"""Re-sealing of the gateway's secrets when the master key rotates."""

from django.db import transaction

from aigateway.models import DialogMapping, Upstream
from compliance.vault import needs_reseal
from integrator.models import Portal


def reseal_upstream_keys(portal: Portal, dry_run: bool) -> int:
    """Re-seal vendor API keys sealed under an older master key."""
    count = 0
    for upstream in Upstream.objects.filter(portal=portal).exclude(api_key_sealed=""):
        if not needs_reseal(upstream.api_key_sealed):
            continue
        count += 1
        if not dry_run:
            upstream.set_api_key(upstream.api_key)
            upstream.save(update_fields=["api_key_sealed"])
    return count


def reseal_dialog_mappings(portal: Portal, dry_run: bool) -> int:
    """Re-seal dialog mappings sealed under an older master key."""
    stale = [
        pk
        for pk, sealed in DialogMapping.objects.filter(portal=portal)
        .exclude(mapping_sealed="")
        .values_list("pk", "mapping_sealed")
        if needs_reseal(sealed)
    ]
    if dry_run:
        return len(stale)
    for pk in stale:
        with transaction.atomic():
            # Locked like a request would lock it, so no placeholder is lost.
            row = DialogMapping.objects.select_for_update().filter(pk=pk).first()
            if (
                row is not None
                and row.mapping_sealed
                and needs_reseal(row.mapping_sealed)
            ):
                row.seal_mapping(row.mapping_json())
                row.save(update_fields=["mapping_sealed"])
    return len(stale)

"""A lead's phones, protected: pseudonyms and sealed originals in its own fields.

What the lead holds afterwards:

- ``UF_CRM_PDN_PHONE_HASH``: the keyed pseudonym of each distinct number.
- ``UF_CRM_PDN_ORIGINAL_PHONE``: each number in E.164, sealed.
- ``PHONE``: in ``mask`` mode every item shows ``+7 900 ***-**-67`` and a
  number written twice keeps one item; in ``keep`` mode it is untouched, for
  telephony.

Both fields are single-value strings. A lead with several numbers keeps
space-separated lists in them, in the order of its PHONE items: the n-th
pseudonym and the n-th sealed value are the same number. Neither form ever
holds a space (``ph1:<hex>``, ``v1:<token>``), and a lead with one number
holds the bare value, so an exact filter on the hash still finds it.

Processing converges. The app's own write comes back as an event, and
events repeat: a lead whose fields already say what this module would write
and whose PHONE items are already masked gets no write at all. Originals
already stored are reused as they are (sealing again would give another
ciphertext and a write that never ends), and a masked item is matched to
its stored original by its masked form. A raw number in PHONE — new, or a
masked one the manager overwrote — is protected again; a number no longer
in PHONE leaves the fields with it.

Pseudonyms follow the current master key: a lead processed after a key
rotation gets its pseudonyms under the new version (look-ups use
``vault.pseudonyms`` for every version). The rotation step registered here
re-seals the originals and re-keys the pseudonyms of every lead in one
write each.

Items are changed by their ID (``{"ID": …, "VALUE": …}``) or removed with
``DELETE: "Y"``; an item without an ID would be appended. Text that is not
a phone number is left as it is and counted.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from b24app import crypto
from compliance import vault
from compliance.journal import Actor, journal_record, subject_lead
from compliance.phones.policy import phone_mode
from integrator import errors
from integrator.models import Portal
from integrator.pacing import redis_client, redis_down_is_transient
from integrator.rest import Client, portal_client

logger = logging.getLogger(__name__)

HASH_FIELD = "UF_CRM_PDN_PHONE_HASH"
ORIGINAL_FIELD = "UF_CRM_PDN_ORIGINAL_PHONE"
# What vault.mask writes: country code, the first three digits, stars.
MASKED_RE = re.compile(r"^\+\d{1,3} \d{1,3} \*[*\-]*-\d{2}$")
ACTOR = Actor(kind="app", role="lead_phones")
LOCK_TTL = 120.0
JOURNAL_MAX_PHONES = 100


class SealedUnreadable(Exception):
    """A stored original does not open with any known key; nothing is written."""


@dataclass(frozen=True)
class PhonesOutcome:
    """What protecting one lead did; ids and counts only, never a number."""

    lead_id: int
    exists: bool
    written: bool = False
    phone_items: int = 0  # PHONE items the lead had when it was read
    pseudonyms: tuple[str, ...] = ()
    masked: int = 0  # items whose VALUE became the masked form
    removed: int = 0  # items deleted as repeats of a number already present
    invalid: int = 0  # items that are not phone numbers, left alone
    unmatched: int = 0  # masked items whose original is not stored
    refused: str = ""  # a reason nothing could be done


@dataclass
class PhonesPlan:
    """The write a lead needs, or none: ``fields`` empty means converged."""

    fields: dict[str, Any] = field(default_factory=dict)
    pseudonyms: list[str] = field(default_factory=list)
    masked: int = 0
    removed: int = 0
    invalid: int = 0
    unmatched: int = 0


def lead_phones_protect(*, portal: Portal, lead_id: int) -> PhonesOutcome:
    """Protect a lead's phones in its own fields; write only what differs."""
    client = portal_client(portal)
    with lead_lock(portal, lead_id):
        # Read under the lock: a second worker for the same lead (a repeated
        # event, or the echo of the first one's write) waits here and then
        # sees the protected lead instead of sealing the raw numbers again.
        try:
            lead = client.call("crm.lead.get", {"id": lead_id})
        except errors.NotFound:
            return PhonesOutcome(lead_id=lead_id, exists=False)
        if not isinstance(lead, Mapping):
            return PhonesOutcome(lead_id=lead_id, exists=False)
        if HASH_FIELD not in lead or ORIGINAL_FIELD not in lead:
            # Without the fields the portal would drop the originals and keep
            # the masks: the numbers would be lost. Setup adds them.
            logger.warning(
                "portal %s lead %s: the phone fields are missing",
                portal.member_id,
                lead_id,
            )
            return PhonesOutcome(lead_id=lead_id, exists=True, refused="no_fields")
        try:
            plan = phones_plan(portal, lead, mode=phone_mode(portal))
        except SealedUnreadable:
            logger.warning(
                "portal %s lead %s: a stored original does not open",
                portal.member_id,
                lead_id,
            )
            return PhonesOutcome(
                lead_id=lead_id, exists=True, refused="sealed_unreadable"
            )
        if plan.fields:
            _write(client, portal, lead_id, plan)

    return PhonesOutcome(
        lead_id=lead_id,
        exists=True,
        written=bool(plan.fields),
        phone_items=len(phone_items(lead)),
        pseudonyms=tuple(plan.pseudonyms),
        masked=plan.masked,
        removed=plan.removed,
        invalid=plan.invalid,
        unmatched=plan.unmatched,
    )


def _write(client: Client, portal: Portal, lead_id: int, plan: PhonesPlan) -> None:
    # The portal's write first, the entry after: holding the journal's
    # per-portal lock across an HTTP call (which may wait for the rate
    # limit) would stall every reveal of the portal. If the entry fails, the
    # task fails and is retried; the lead is protected either way.
    client.call("crm.lead.update", {"id": lead_id, "fields": plan.fields})
    journal_record(
        portal=portal,
        action="lead.phone.protected",
        actor=ACTOR,
        subject=subject_lead(lead_id),
        details={
            "phones": plan.pseudonyms[:JOURNAL_MAX_PHONES],
            "phone_count": len(plan.pseudonyms),
            "masked": plan.masked,
            "removed": plan.removed,
        },
    )


def phones_plan(portal: Portal, lead: Mapping[str, Any], *, mode: str) -> PhonesPlan:
    """Compare the lead with what its fields should hold; the difference to write."""
    plan = PhonesPlan()
    stored = stored_originals(portal, lead)
    sealed_by_number = dict(stored)
    kept: dict[str, str] = {}  # E.164 -> sealed, in the order of PHONE items
    items: list[dict[str, str]] = []

    for item in phone_items(lead):
        value = item["VALUE"].strip()
        if MASKED_RE.match(value):
            number = _match_masked(value, stored, kept)
            if number is not None:
                kept[number] = sealed_by_number[number]
            elif mode == "mask" and any(vault.mask(n) == value for n in kept):
                items.append({"ID": item["ID"], "DELETE": "Y"})
                plan.removed += 1
            else:
                plan.unmatched += 1
            continue

        try:
            number = vault.normalise(value)
        except vault.PhoneNumberError:
            plan.invalid += 1
            continue
        if number in kept:
            if mode == "mask":
                items.append({"ID": item["ID"], "DELETE": "Y"})
                plan.removed += 1
            continue
        kept[number] = sealed_by_number.get(number) or vault.encrypt_phone(
            portal, number
        )
        if mode == "mask":
            items.append(
                {
                    "ID": item["ID"],
                    "VALUE": vault.mask(number),
                    "VALUE_TYPE": item["VALUE_TYPE"],
                }
            )
            plan.masked += 1

    plan.pseudonyms = [vault.pseudonym(portal, number) for number in kept]
    hashes = " ".join(plan.pseudonyms)
    originals = " ".join(kept.values())
    if hashes != _text(lead.get(HASH_FIELD)) or originals != _text(
        lead.get(ORIGINAL_FIELD)
    ):
        plan.fields[HASH_FIELD] = hashes
        plan.fields[ORIGINAL_FIELD] = originals
    if items:
        plan.fields["PHONE"] = items
    return plan


def _match_masked(
    value: str, stored: list[tuple[str, str]], kept: Mapping[str, str]
) -> str | None:
    """The stored number a masked item stands for (two may share a mask)."""
    for number, _sealed in stored:
        if number not in kept and vault.mask(number) == value:
            return number
    return None


def phone_items(lead: Mapping[str, Any]) -> list[dict[str, str]]:
    """The lead's PHONE items with an ID, in the order of their IDs."""
    raw = lead.get("PHONE")
    rows = raw if isinstance(raw, list) else []
    items = []
    for row in rows:
        if not isinstance(row, Mapping) or not str(row.get("ID") or "").isdigit():
            continue
        items.append(
            {
                "ID": str(row["ID"]),
                "VALUE": str(row.get("VALUE") or ""),
                "VALUE_TYPE": str(row.get("VALUE_TYPE") or "WORK"),
            }
        )
    return sorted(items, key=lambda item: int(item["ID"]))


def stored_originals(portal: Portal, lead: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(E.164, sealed)`` for each original in the lead's field, in order."""
    pairs = []
    for sealed in _text(lead.get(ORIGINAL_FIELD)).split():
        try:
            pairs.append((vault.decrypt_phone(portal, sealed), sealed))
        except crypto.CryptoError as exc:
            raise SealedUnreadable from exc
    return pairs


def stored_pseudonyms(lead: Mapping[str, Any]) -> list[str]:
    return _text(lead.get(HASH_FIELD)).split()


def _text(value: Any) -> str:
    if isinstance(value, list):  # a field made multiple by hand
        return " ".join(str(v) for v in value if v)
    return str(value or "").strip()


def lead_originals_reseal(portal: Portal, dry_run: bool) -> int:
    """Rotation step: leads whose originals are sealed under an older key.

    Each lead is re-read and written under its lock, so a protection running
    at the same moment is not overwritten with the numbers it replaced.
    Returns how many leads were (or, on a dry run, would be) rewritten.
    """
    if portal.status != Portal.Status.ACTIVE or portal.setup_completed_at is None:
        # Never set up: the portal has no lead field holding originals.
        return 0
    client = portal_client(portal)
    stale = [
        int(row["ID"])
        for row in client.iterate("crm.lead.list", select=["ID", ORIGINAL_FIELD])
        if any(vault.needs_reseal(s) for s in _text(row.get(ORIGINAL_FIELD)).split())
    ]
    if dry_run:
        return len(stale)

    changed = 0
    for lead_id in stale:
        with lead_lock(portal, lead_id):
            try:
                lead = client.call("crm.lead.get", {"id": lead_id})
            except errors.NotFound:
                continue
            pairs = stored_originals(portal, lead)
            if not any(vault.needs_reseal(sealed) for _n, sealed in pairs):
                continue
            fields = {
                HASH_FIELD: " ".join(vault.pseudonym(portal, n) for n, _s in pairs),
                ORIGINAL_FIELD: " ".join(
                    vault.reseal_phone(portal, sealed) for _n, sealed in pairs
                ),
            }
            client.call("crm.lead.update", {"id": lead_id, "fields": fields})
            changed += 1
    return changed


vault.register_rotation_step("lead_phone_originals", lead_originals_reseal)


@contextlib.contextmanager
def lead_lock(portal: Portal, lead_id: int) -> Iterator[None]:
    """One protection of a lead at a time across workers (no-op without Redis)."""
    url: str = settings.REDIS_URL
    if not url:
        yield
        return
    lock = redis_client(url).lock(
        f"pdn:lead-phones:{portal.member_id}:{int(lead_id)}",
        timeout=LOCK_TTL,
        blocking_timeout=LOCK_TTL,
    )
    with redis_down_is_transient():
        acquired = lock.acquire()
    if not acquired:
        raise errors.Transient("lead_lock_busy", "another worker holds the lead")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            lock.release()

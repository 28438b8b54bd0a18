"""A manager asks to see a lead's original number: checks, journal, then the number.

The order is the policy (152-FZ art. 18.1, 19: access to personal data is
limited to those who need it, and every access is recorded):

1. a reason from the list, or "other" with the manager's own words;
2. the reveal right, held in person or through a department;
3. the per-user rate limit (an admin alert on bursts);
4. the sealed original from the lead's field;
5. ``vault.phone_reveal``: decrypt and journal in one transaction, and only
   then the number goes back to the page.

Every refusal is journaled too (``lead.phone.reveal_refused``) with its code,
and reaches the manager as a sentence in Russian.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from compliance import vault
from compliance.journal import Actor, journal_record, subject_lead
from compliance.lead_phones import stored_originals
from compliance.phones.models import RevealNote
from compliance.phones.policy import may_reveal
from compliance.phones.ratelimit import reveal_attempt
from integrator import errors
from integrator.models import Portal
from integrator.rest import INTERACTIVE, portal_client

VISIBLE_SECONDS = 60
NOTE_MAX = 300
OTHER = vault.RevealReason.OTHER.value
# What the tab offers, in this order.
REASON_CHOICES = tuple(
    (reason.value, reason.label)
    for reason in (
        vault.RevealReason.CALLBACK,
        vault.RevealReason.APPOINTMENT,
        vault.RevealReason.SUBJECT_REQUEST,
        vault.RevealReason.OTHER,
    )
)

REFUSALS = {
    "no_reason": (400, _("Выберите причину, по которой нужен номер.")),
    "no_note": (400, _("Для причины «Другое» опишите её своими словами.")),
    "no_right": (
        403,
        _(
            "У вас нет права просматривать номера телефонов. "
            "Его выдаёт администратор портала в настройках PDn Guard."
        ),
    ),
    "rate_limited": (
        429,
        _(
            "Слишком много номеров за короткое время. Попробуйте позже; "
            "администратор портала получил уведомление."
        ),
    ),
    "no_phone": (404, _("У этого лида нет защищённого номера.")),
}


class RevealRefused(Exception):
    """The number stays hidden; ``message`` is for the manager, ``code`` for logs."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.status, self.message = REFUSALS[code]
        super().__init__(code)


@dataclass(frozen=True)
class Revealed:
    phone: str  # E.164
    display: str  # +7 900 123-45-67
    pseudonym: str
    visible_seconds: int = VISIBLE_SECONDS


def reason_codes() -> list[str]:
    return [code for code, _label in REASON_CHOICES]


def lead_phone_reveal(
    *,
    portal: Portal,
    lead_id: int,
    b24_user_id: int,
    departments: Iterable[int] = (),
    reason: str,
    note: str = "",
    index: int = 0,
    channel: str = "lead_tab",
) -> Revealed:
    """Show one of a lead's numbers to a user who may see it, for a stated reason."""
    note = " ".join(note.split())[:NOTE_MAX]
    known = reason in vault.RevealReason.values

    def refuse(code: str) -> RevealRefused:
        return _refusal(portal, lead_id, b24_user_id, reason if known else "", code)

    if not known:
        raise refuse("no_reason")
    if reason == OTHER and not note:
        raise refuse("no_note")
    if not may_reveal(portal=portal, b24_user_id=b24_user_id, departments=departments):
        raise refuse("no_right")
    if not reveal_attempt(portal=portal, b24_user_id=b24_user_id).allowed:
        raise refuse("rate_limited")

    try:
        lead = portal_client(portal, pacing=INTERACTIVE).call(
            "crm.lead.get", {"id": lead_id}
        )
    except errors.NotFound:
        raise refuse("no_phone") from None
    stored = stored_originals(portal, lead if isinstance(lead, dict) else {})
    if not 0 <= index < len(stored):
        raise refuse("no_phone")

    with transaction.atomic():
        note_ref = ""
        if reason == OTHER:
            written = RevealNote.objects.create(
                portal=portal, lead_id=lead_id, b24_user_id=b24_user_id, text=note
            )
            note_ref = f"revealnote#{written.pk}"
        phone = vault.phone_reveal(
            portal=portal,
            lead_id=lead_id,
            sealed=stored[index][1],
            actor=Actor.user(b24_user_id, "revealer"),
            reason=reason,
            channel=channel,
            note=note_ref,
        )
    return Revealed(
        phone=phone, display=_display(phone), pseudonym=vault.pseudonym(portal, phone)
    )


def _refusal(
    portal: Portal, lead_id: int, b24_user_id: int, reason: str, code: str
) -> RevealRefused:
    # Committed on its own: the refusal stays recorded though the request fails.
    with transaction.atomic():
        journal_record(
            portal=portal,
            action="lead.phone.reveal_refused",
            actor=Actor.user(b24_user_id, "manager"),
            subject=subject_lead(lead_id),
            details={"refusal": code, "reason": reason},
        )
    return RevealRefused(code)


def _display(e164: str) -> str:
    number = phonenumbers.parse(e164, None)
    return str(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    )


def reveal_notes_forget(*, portal_id: int, lead_id: int) -> int:
    """A deleted lead's reveal notes go with it; the journal keeps the codes."""
    notes = RevealNote.objects.filter(portal_id=portal_id, lead_id=lead_id)
    deleted, _ = notes.delete()
    return deleted

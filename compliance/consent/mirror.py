"""What a lead shows of its consent: three fields and a timeline comment.

The lead fields mirror the processing purpose, the one every client is
asked for: ``UF_CRM_PDN_CONSENT`` is ``Y`` only while it is granted. The
ledger stays the evidence; the lead is a convenience for managers and CRM
filters, rewritten whole on every change so a missed update heals itself.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.utils import formats, translation

from compliance.consent.models import (
    DESTROY_WITHIN,
    Channel,
    ConsentEvent,
    ConsentStatus,
    Purpose,
)

FIELD_CONSENT = "UF_CRM_PDN_CONSENT"
FIELD_CONSENT_AT = "UF_CRM_PDN_CONSENT_AT"
FIELD_CONSENT_TEXT = "UF_CRM_PDN_CONSENT_TEXT"
MOSCOW = ZoneInfo("Europe/Moscow")

State = ConsentStatus.State
Kind = ConsentEvent.Kind


def lead_fields(statuses: dict[str, ConsentStatus]) -> dict[str, Any]:
    """The ``crm.lead.update`` fields for a lead's current consents."""
    processing = statuses.get(Purpose.PROCESSING)
    if processing is None:
        return {FIELD_CONSENT: "", FIELD_CONSENT_AT: "", FIELD_CONSENT_TEXT: ""}
    granted = processing.state == State.GRANTED
    return {
        FIELD_CONSENT: "Y" if granted else "N",
        FIELD_CONSENT_AT: processing.changed_at.astimezone(MOSCOW).isoformat(
            timespec="seconds"
        ),
        FIELD_CONSENT_TEXT: processing.document.label,
    }


WHAT: dict[tuple[str, str], str] = {
    (Kind.ANSWERED, State.GRANTED): "Клиент дал согласие",
    (Kind.ANSWERED, State.DENIED): "Клиент отказался дать согласие",
    (Kind.WITHDRAWN, State.WITHDRAWN): "Согласие отозвано",
    (Kind.RENEWAL, State.NEEDS_RENEWAL): "Нужно новое согласие: изменился текст",
    (Kind.REQUESTED, State.PENDING): "Клиенту отправлен запрос согласия",
}


def timeline_comment(event: ConsentEvent) -> str:
    """The Russian timeline note for one ledger event; ids and codes only."""
    what = WHAT.get((event.kind, event.status_after), "Изменение согласия")
    with translation.override("ru"):
        purpose = str(Purpose(event.purpose).label)
        channel = str(Channel(event.channel).label)
        at = formats.date_format(event.at.astimezone(MOSCOW), "d.m.Y H:i")
    lines = [
        f"PDn Guard. {what}.",
        f"Цель: {purpose}.",
        f"Текст: версия {event.document_version}, SHA-256 {event.document_sha256}.",
        f"Канал: {channel}. Время: {at} (МСК).",
    ]
    if event.kind == Kind.WITHDRAWN and event.status_after == State.WITHDRAWN:
        deadline = event.at.astimezone(MOSCOW) + DESTROY_WITHIN
        lines.append(
            "Обработка прекращена, данные будут уничтожены не позднее "
            f"{formats.date_format(deadline, 'd.m.Y')} (ч. 5 ст. 21 152-ФЗ)."
        )
    if event.actor_user_id:
        lines.append(f"Записал сотрудник с ID {event.actor_user_id}.")
    return "\n".join(lines)

"""What managers and admins see of consent: the lead tab's panel and the rate chart.

Both return plain data (ids, codes, labels, times); the pages render it.
Nothing here reads the sealed replies or notes: the tab shows that an
answer was given and under which text, not what the client wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from django.db.models import Count, Q
from django.utils import formats, timezone, translation

from compliance.consent import documents, ledger
from compliance.consent.models import (
    Channel,
    ConsentEvent,
    ConsentStatus,
    Purpose,
)
from integrator.models import Portal

State = ConsentStatus.State


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return formats.date_format(timezone.localtime(value), "d.m.Y H:i")


def _day(value: datetime | None) -> str:
    if value is None:
        return ""
    return formats.date_format(timezone.localtime(value), "d.m.Y")


def lead_panel(*, portal: Portal, lead_id: int) -> dict[str, Any]:
    """The lead tab's consent block: one row per purpose, with its history."""
    statuses = ledger.lead_statuses(portal=portal, lead_id=lead_id)
    history = ledger.lead_history(portal=portal, lead_id=lead_id)
    purposes = documents.settings_for(portal).purposes()
    purposes += [p for p in statuses if p not in purposes]

    rows = []
    for purpose in purposes:
        status = statuses.get(purpose)
        rows.append(
            {
                "purpose": purpose,
                "purpose_label": str(Purpose(purpose).label),
                "state": status.state if status else "",
                "state_label": str(State(status.state).label)
                if status
                else str(translation.gettext("Не запрашивалось")),
                "version": status.document.version if status else None,
                "sha256": status.document.sha256 if status else "",
                "document_url": documents.document_path(status.document)
                if status
                else "",
                "changed_at": _when(status.changed_at) if status else "",
                "withdrawn_at": _when(status.withdrawn_at) if status else "",
                "destroy_by": _day(status.destroy_by) if status else "",
                "history": [
                    {
                        "kind": event.kind,
                        "kind_label": str(ConsentEvent.Kind(event.kind).label),
                        "status": event.status_after,
                        "answer": event.answer,
                        "version": event.document_version,
                        "channel": str(Channel(event.channel).label),
                        "at": _when(event.at),
                        "by_user_id": event.actor_user_id,
                    }
                    for event in history
                    if event.purpose == purpose
                ],
            }
        )
    withdrawable = any(
        row["state"] in (State.GRANTED, State.PENDING, State.NEEDS_RENEWAL)
        for row in rows
    )
    return {"lead_id": lead_id, "purposes": rows, "can_withdraw": withdrawable}


def manager_withdrawal(
    *, portal: Portal, lead_id: int, manager_user_id: int, note: str
) -> list[ConsentEvent]:
    """A withdrawal the client made by phone or letter, recorded by a manager."""
    note = note.strip()
    if not note:
        raise ledger.LedgerError("say how the client withdrew (a call, a letter)")
    if len(note) > 1000:
        raise ledger.LedgerError("the note holds at most 1000 characters")
    return ledger.consent_withdraw(
        portal=portal,
        client_ref=f"lead:{int(lead_id)}",
        lead_id=lead_id,
        place=ledger.MANAGER_PLACE,
        manager_user_id=manager_user_id,
        note=note,
    )


# --- consent rate per channel -------------------------------------------------


@dataclass(frozen=True)
class ChannelRate:
    channel: str
    label: str
    asked: int
    granted: int
    denied: int

    @property
    def rate(self) -> float:
        """Share of asked clients who said yes (0–1)."""
        return self.granted / self.asked if self.asked else 0.0


def consent_rates(
    *, portal: Portal, purpose: str = Purpose.PROCESSING
) -> list[ChannelRate]:
    """Per channel: clients asked, and how many said yes or no (any time since)."""
    requested = (
        ConsentEvent.objects.filter(
            portal=portal, purpose=purpose, kind=ConsentEvent.Kind.REQUESTED
        )
        .values("channel")
        .annotate(clients=Count("client_ref", distinct=True))
    )
    answered = (
        ConsentEvent.objects.filter(
            portal=portal, purpose=purpose, kind=ConsentEvent.Kind.ANSWERED
        )
        .values("channel")
        .annotate(
            granted=Count("client_ref", distinct=True, filter=Q(answer="yes")),
            denied=Count("client_ref", distinct=True, filter=Q(answer="no")),
        )
    )
    answers = {row["channel"]: row for row in answered}
    rates = []
    for row in requested.order_by("channel"):
        channel = row["channel"]
        found = answers.get(channel, {})
        rates.append(
            ChannelRate(
                channel=channel,
                label=str(Channel(channel).label),
                asked=row["clients"],
                granted=found.get("granted", 0),
                denied=found.get("denied", 0),
            )
        )
    return sorted(rates, key=lambda r: (-r.asked, r.channel))


BAR_HEIGHT = 22
GAP = 10
LABEL_WIDTH = 130
BAR_WIDTH = 300


def rates_svg(rates: list[ChannelRate]) -> str:
    """A horizontal bar chart of consent rates as inline SVG (no script, no CDN)."""
    if not rates:
        return ""
    height = len(rates) * (BAR_HEIGHT + GAP) + GAP
    width = LABEL_WIDTH + BAR_WIDTH + 120
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="pdn-rates" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
    ]
    for index, rate in enumerate(rates):
        y = GAP + index * (BAR_HEIGHT + GAP)
        filled = round(BAR_WIDTH * rate.rate)
        percent = round(rate.rate * 100)
        parts.append(
            f'<g data-channel="{escape(rate.channel)}" data-rate="{percent}">'
            f'<text x="0" y="{y + 16}" font-size="13">{escape(rate.label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{BAR_WIDTH}" '
            f'height="{BAR_HEIGHT}" fill="#e8edf2"/>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{filled}" '
            f'height="{BAR_HEIGHT}" fill="#2fc6f6"/>'
            f'<text x="{LABEL_WIDTH + BAR_WIDTH + 8}" y="{y + 16}" font-size="13">'
            f"{percent}% ({rate.granted}/{rate.asked})</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


# --- the admin's settings page ------------------------------------------------


def settings_panel(*, portal: Portal) -> dict[str, Any]:
    """The consent part of the app page: operator details, texts, the rate chart."""
    consent_settings = documents.settings_for(portal)
    texts = []
    for purpose in consent_settings.purposes():
        document = documents.document_current(portal=portal, purpose=purpose)
        texts.append(
            {
                "purpose": purpose,
                "purpose_label": str(Purpose(purpose).label),
                "version": document.version,
                "sha256": document.sha256,
                "text": document.text,
                "custom": document.custom,
                "url": documents.document_path(document),
            }
        )
    rates = consent_rates(portal=portal)
    return {
        "settings": {
            "operator_name": consent_settings.operator_name,
            "operator_address": consent_settings.operator_address,
            "inn": consent_settings.inn,
            "ogrn": consent_settings.ogrn,
            "withdraw_contact": consent_settings.withdraw_contact,
            "term": consent_settings.term,
            "clinic": consent_settings.clinic,
            "marketing": consent_settings.marketing,
            "processors": consent_settings.processors,
        },
        "texts": texts,
        "rates": [
            {"channel": r.channel, "label": r.label, "asked": r.asked, "rate": r.rate}
            for r in rates
        ],
        "chart_svg": rates_svg(rates),
    }

"""Which clock a lead runs on, when it falls due, and what stops it.

Classes, in the order they are tried:

1. a legal hold suspends everything for the lead;
2. a *medical record* (the policy's user field set, or a medical source or
   status) is never destroyed automatically — it is flagged so the clinic
   keeps it in its own system (outpatient cards are kept 25 years);
3. withdrawn consent: destroyed within 30 days of the withdrawal
   (152-FZ art. 21 part 5), at the first daily run after it;
4. a class the admin added (statuses or sources, a period in days);
5. an unconverted lead: 6–12 months after its last contact (the later of
   DATE_MODIFY and LAST_ACTIVITY_TIME). Converted leads are not touched:
   they became deals and contacts with purposes of their own.
"""

from __future__ import annotations

import calendar
import importlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.journal import Actor, journal_record, subject_lead
from compliance.retention.models import LegalHold, RetentionClass, RetentionPolicy
from integrator.models import Portal

logger = logging.getLogger(__name__)

UNCONVERTED = "unconverted"
WITHDRAWN = "withdrawn"
MEDICAL = "medical"
CONVERTED_STATUS = "CONVERTED"
TRUE_VALUES = {"1", "y", "yes", "true", "да"}
LEAD_SELECT = [
    "ID",
    "STATUS_ID",
    "SOURCE_ID",
    "DATE_MODIFY",
    "LAST_ACTIVITY_TIME",
]


@dataclass(frozen=True)
class Verdict:
    """What the policy says about one lead today."""

    lead_id: int
    data_class: str
    action: str  # destroy | notice | flag | hold | keep
    due_at: datetime | None
    reason: str
    destroy_by: datetime | None = None


def policy_for(portal: Portal) -> RetentionPolicy:
    """The portal's policy, created with the defaults on first use."""
    policy, _created = RetentionPolicy.objects.get_or_create(portal=portal)
    return policy


def add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def parse_b24_time(value: Any) -> datetime | None:
    """Bitrix24's ISO 8601 with offset; empty or garbage is None."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def last_contact(row: Mapping[str, Any]) -> datetime | None:
    moments = [
        parse_b24_time(row.get("DATE_MODIFY")),
        parse_b24_time(row.get("LAST_ACTIVITY_TIME")),
    ]
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def is_medical(policy: RetentionPolicy, row: Mapping[str, Any]) -> bool:
    flag = row.get(policy.medical_field)
    if isinstance(flag, bool):
        marked = flag
    else:
        marked = str(flag or "").strip().lower() in TRUE_VALUES
    return (
        marked
        or (row.get("SOURCE_ID") or "") in set(policy.medical_sources or [])
        or (row.get("STATUS_ID") or "") in set(policy.medical_statuses or [])
    )


def custom_class(
    classes: Iterable[RetentionClass], row: Mapping[str, Any]
) -> RetentionClass | None:
    for entry in classes:
        statuses, sources = entry.status_ids or [], entry.source_ids or []
        if statuses and row.get("STATUS_ID") not in statuses:
            continue
        if sources and row.get("SOURCE_ID") not in sources:
            continue
        if statuses or sources:
            return entry
    return None


@dataclass
class PortalRules:
    """A portal's policy, classes, holds and withdrawals, read once per run."""

    policy: RetentionPolicy
    classes: list[RetentionClass]
    held: set[int]
    withdrawn: dict[int, tuple[datetime, datetime]]

    @classmethod
    def load(cls, portal: Portal) -> PortalRules:
        return cls(
            policy=policy_for(portal),
            classes=list(RetentionClass.objects.filter(portal=portal, active=True)),
            held=held_leads(portal),
            withdrawn=withdrawals(portal),
        )

    def unconverted_cutoff(self, now: datetime) -> datetime:
        """Leads last touched before this are due within the notice window."""
        notice = timedelta(days=self.policy.notice_days)
        return add_months(now + notice, -self.policy.unconverted_months)

    def verdict(self, row: Mapping[str, Any], now: datetime) -> Verdict:
        lead_id = int(row["ID"])
        if lead_id in self.held:
            return Verdict(lead_id, "", "hold", None, "legal_hold")
        clock = self._clock(row, now)
        if clock.action in ("destroy", "notice") and is_medical(self.policy, row):
            # Never destroyed here: the clinic keeps it in its own system.
            return Verdict(lead_id, MEDICAL, "flag", clock.due_at, "medical_record")
        return clock

    def _clock(self, row: Mapping[str, Any], now: datetime) -> Verdict:
        lead_id = int(row["ID"])
        policy = self.policy
        if lead_id in self.withdrawn:
            withdrawn_at, destroy_by = self.withdrawn[lead_id]
            return Verdict(
                lead_id,
                WITHDRAWN,
                "destroy",
                withdrawn_at,
                "consent_withdrawn",
                destroy_by=destroy_by,
            )
        if row.get("STATUS_ID") == CONVERTED_STATUS:
            return Verdict(lead_id, "", "keep", None, "converted")

        contact = last_contact(row)
        if contact is None:
            return Verdict(lead_id, "", "keep", None, "no_last_contact")
        entry = custom_class(self.classes, row)
        if entry is not None:
            due = contact + timedelta(days=entry.period_days)
            data_class, reason = entry.code, "class_period_ended"
        else:
            due = add_months(contact, policy.unconverted_months)
            data_class, reason = UNCONVERTED, "retention_period_ended"
        if due <= now:
            return Verdict(lead_id, data_class, "destroy", due, reason)
        if due <= now + timedelta(days=policy.notice_days):
            return Verdict(lead_id, data_class, "notice", due, reason)
        return Verdict(lead_id, data_class, "keep", due, "not_due")


# --- legal holds --------------------------------------------------------------


def held_leads(portal: Portal) -> set[int]:
    rows = LegalHold.objects.filter(portal=portal, released_at__isnull=True)
    return set(rows.values_list("lead_id", flat=True))


def hold_set(
    *,
    portal: Portal,
    lead_id: int,
    reason: str,
    user_id: int,
    review_date: date,
    role: str = "manager",
) -> LegalHold:
    """Put a legal hold on a lead (journaled); an open hold is returned as is."""
    if reason not in LegalHold.Reason.values:
        raise ValueError("reason must be one of the legal hold reasons")
    try:
        with transaction.atomic():
            hold = LegalHold.objects.create(
                portal=portal,
                lead_id=lead_id,
                reason=reason,
                set_by_user_id=user_id,
                review_date=review_date,
            )
            journal_record(
                portal=portal,
                action="retention.hold.set",
                actor=Actor.user(user_id, role),
                subject=subject_lead(lead_id),
                details={"reason": reason, "review_date": review_date.isoformat()},
            )
    except IntegrityError:
        # Someone set one a moment ago (the unique open-hold constraint).
        return LegalHold.objects.get(
            portal=portal, lead_id=lead_id, released_at__isnull=True
        )
    return hold


def hold_release(
    *, portal: Portal, lead_id: int, user_id: int, role: str = "manager"
) -> LegalHold | None:
    """Release the lead's open hold (journaled); None when there was none."""
    with transaction.atomic():
        hold = (
            LegalHold.objects.select_for_update()
            .filter(portal=portal, lead_id=lead_id, released_at__isnull=True)
            .first()
        )
        if hold is None:
            return None
        hold.released_at = timezone.now()
        hold.released_by_user_id = user_id
        hold.save(update_fields=["released_at", "released_by_user_id"])
        journal_record(
            portal=portal,
            action="retention.hold.released",
            actor=Actor.user(user_id, role),
            subject=subject_lead(lead_id),
            details={"reason": hold.reason},
        )
    return hold


def hold_of(portal: Portal, lead_id: int) -> LegalHold | None:
    return LegalHold.objects.filter(
        portal=portal, lead_id=lead_id, released_at__isnull=True
    ).first()


# --- withdrawn consent ----------------------------------------------------------


def withdrawals(portal: Portal) -> dict[int, tuple[datetime, datetime]]:
    """Leads whose consent was withdrawn: lead id → (withdrawn at, destroy by)."""
    source = _consent_source()
    if source is None:
        return {}
    found: dict[int, tuple[datetime, datetime]] = {}
    for lead_id, withdrawn_at, destroy_by in source(portal):
        found[int(lead_id)] = (withdrawn_at, destroy_by)
    return found


def _consent_source() -> Any:
    # The consent ledger is a sibling app; imported late so that retention
    # still runs (finding no withdrawals) where the ledger is not installed.
    try:
        module = importlib.import_module("compliance.consent.ledger")
    except ImportError:
        logger.warning("consent ledger missing; no withdrawn leads are destroyed")
        return None
    return getattr(module, "withdrawn_leads", None)

"""The consent ledger's workflows: ask, answer, withdraw, renew; and what others read.

Every change appends a ``ConsentEvent`` (the evidence) and moves the
client's ``ConsentStatus`` in one transaction, with one journal entry that
names ids, purpose, version and status only. The raw reply stays sealed on
the event; the journal never sees it.

Rules kept here:
- An answer binds to the text the client was shown: the document of the
  latest request, not whatever version is current when the answer arrives.
- Only yes grants. No denies; anything unclear leaves the request pending.
- A message Bitrix24 delivers twice is one fact (unique per message id).
- Withdrawal stops the AI gateway for the client at once and sets the
  destruction deadline: 30 days (152-FZ art. 21 part 5).

Retention reads ``withdrawn_leads(portal)``: one ``WithdrawnLead(lead_id,
withdrawn_at, destroy_by)`` per lead whose *processing* consent is withdrawn
now, earliest deadline first. A lead that consented again drops out. Other
purposes (marketing, health) only stop their own use when withdrawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone

from aigateway.consent_gate import client_block, client_unblock, valid_client_ref
from aigateway.models import BlockedClient
from compliance.consent.models import (
    DESTROY_WITHIN,
    Channel,
    ConsentDocument,
    ConsentEvent,
    ConsentStatus,
    Purpose,
)
from compliance.consent.replies import Reply, classify_reply
from compliance.journal import DIGIT_RUN_RE, MAX_DETAIL_INT, Actor, journal_record
from integrator.models import Portal

State = ConsentStatus.State
Kind = ConsentEvent.Kind


class LedgerError(ValueError):
    """The ledger cannot record this; the message names the reason, not the data."""


@dataclass(frozen=True)
class ChatPlace:
    """Where a consent conversation happens; empty for a manager's record."""

    channel: str = Channel.OTHER
    connector_id: str = ""
    line_id: int | None = None
    chat_id: int | None = None
    dialog_id: str = ""
    channel_ref: str = ""  # CHAT_ENTITY_ID: the client's id in the messenger


MANAGER_PLACE = ChatPlace(channel=Channel.MANAGER)

# Bitrix24 connector ids (the first part of CHAT_ENTITY_ID) by channel.
CONNECTOR_CHANNELS = (
    ("whatsapp", Channel.WHATSAPP),
    ("wz_whatsapp", Channel.WHATSAPP),
    ("olchat_wa", Channel.WHATSAPP),
    ("telegram", Channel.TELEGRAM),
    ("instagram", Channel.INSTAGRAM),
    ("fbinstagram", Channel.INSTAGRAM),
    ("livechat", Channel.SITE),
    ("network", Channel.OTHER),
)


def channel_of(connector_id: str) -> str:
    """The channel a Bitrix24 connector id stands for (``telegrambot`` → telegram)."""
    connector = connector_id.lower()
    for prefix, channel in CONNECTOR_CHANNELS:
        if connector.startswith(prefix):
            return channel.value
    return Channel.OTHER.value


def client_ref_for(*, lead_id: int | None, chat_id: int | None) -> str:
    """The client's key in the ledger and the AI gateway: ``lead:N`` or ``chat:N``."""
    if lead_id:
        return f"lead:{int(lead_id)}"
    if chat_id:
        return f"chat:{int(chat_id)}"
    raise LedgerError("a consent needs a lead or a chat")


class Answered(NamedTuple):
    event: ConsentEvent
    status: ConsentStatus
    created: bool


class WithdrawnLead(NamedTuple):
    lead_id: int
    withdrawn_at: datetime
    destroy_by: datetime


# --- journal ----------------------------------------------------------------


def _subject(lead_id: int | None) -> str:
    # The journal refuses runs of six digits anywhere in text; such lead
    # ids travel as numbers in the details instead.
    if not lead_id or DIGIT_RUN_RE.search(str(lead_id)):
        return ""
    return f"lead#{lead_id}"


def _id(value: int | None) -> int | None:
    return value if value is not None and 0 < value < MAX_DETAIL_INT else None


def _journal(event: ConsentEvent, actor: Actor) -> None:
    journal_record(
        portal=event.portal,
        action=f"consent.{event.kind}",
        actor=actor,
        subject=_subject(event.lead_id),
        details={
            "purpose": event.purpose,
            "version": event.document_version,
            "sha256": event.document_sha256,
            "status": event.status_after,
            "answer": event.answer or None,
            "channel": event.channel,
            "lead_id": _id(event.lead_id),
            "chat_id": _id(event.chat_id),
            "message_id": _id(event.message_id),
            "event_id": event.pk,
        },
    )


# --- writing ----------------------------------------------------------------


def _append(
    *,
    portal: Portal,
    client_ref: str,
    lead_id: int | None,
    purpose: str,
    kind: str,
    document: ConsentDocument,
    place: ChatPlace,
    status_after: str,
    message_id: int | None = None,
    platform_at: datetime | None = None,
    reply: str = "",
    answer: str = "",
    bot_id: int | None = None,
    user_id: int | None = None,
    note: str = "",
) -> ConsentEvent:
    event = ConsentEvent(
        portal=portal,
        client_ref=client_ref,
        lead_id=lead_id or None,
        purpose=purpose,
        kind=kind,
        document=document,
        document_version=document.version,
        document_sha256=document.sha256,
        channel=place.channel,
        connector_id=place.connector_id[:64],
        line_id=place.line_id,
        chat_id=place.chat_id,
        dialog_id=place.dialog_id[:64],
        message_id=message_id,
        platform_at=platform_at,
        answer=answer,
        status_after=status_after,
        asked_by_bot_id=bot_id,
        actor_user_id=user_id,
    )
    event.channel_ref_sealed = event.seal(place.channel_ref)
    event.reply_sealed = event.seal(reply)
    event.note_sealed = event.seal(note)
    event.save(force_insert=True)
    return event


def _locked_status(
    portal: Portal, client_ref: str, purpose: str
) -> ConsentStatus | None:
    # The status row serialises everything done to one client's consent:
    # an answer and its repeat, or an answer and a withdrawal, arriving at
    # once would otherwise both read "pending" and both write.
    return (
        ConsentStatus.objects.select_for_update()
        .filter(portal=portal, client_ref=client_ref, purpose=purpose)
        .first()
    )


def _move(
    status: ConsentStatus | None,
    event: ConsentEvent,
    **changes: object,
) -> ConsentStatus:
    if status is None:
        status = ConsentStatus(
            portal=event.portal,
            client_ref=event.client_ref,
            purpose=event.purpose,
        )
    status.state = event.status_after
    status.document = event.document
    status.last_event = event
    status.changed_at = event.at
    if event.lead_id:
        status.lead_id = event.lead_id
    for name, value in changes.items():
        setattr(status, name, value)
    status.save()
    return status


def _after_commit(event: ConsentEvent) -> None:
    if event.lead_id:
        from compliance.consent.tasks import consent_mirror

        event_id = event.pk
        transaction.on_commit(lambda: consent_mirror.delay(event_id=event_id))


def document_current(*, portal: Portal, purpose: str) -> ConsentDocument:
    from compliance.consent import documents

    return documents.document_current(portal=portal, purpose=purpose)


def _check(client_ref: str, purpose: str) -> None:
    if not valid_client_ref(client_ref):
        raise LedgerError("client_ref must look like lead:1043 or chat:5512")
    if purpose not in Purpose.values:
        raise LedgerError("unknown purpose")


def needs_request(*, portal: Portal, client_ref: str, purpose: str) -> bool:
    """Whether the client is to be asked: never asked, or the text changed."""
    status = ConsentStatus.objects.filter(
        portal=portal, client_ref=client_ref, purpose=purpose
    ).first()
    return status is None or status.state == State.NEEDS_RENEWAL


def consent_request(
    *,
    portal: Portal,
    client_ref: str,
    lead_id: int | None,
    purpose: str,
    place: ChatPlace,
    message_id: int | None = None,
    bot_id: int | None = None,
    user_id: int | None = None,
    platform_at: datetime | None = None,
) -> ConsentEvent:
    """Record that the current text of a purpose was put to the client."""
    _check(client_ref, purpose)
    document = document_current(portal=portal, purpose=purpose)
    with transaction.atomic():
        status = _locked_status(portal, client_ref, purpose)
        if message_id is not None:
            repeated = ConsentEvent.objects.filter(
                portal=portal, purpose=purpose, message_id=message_id
            ).first()
            if repeated is not None:
                return repeated
        event = _append(
            portal=portal,
            client_ref=client_ref,
            lead_id=lead_id,
            purpose=purpose,
            kind=Kind.REQUESTED,
            document=document,
            place=place,
            status_after=State.PENDING,
            message_id=message_id,
            platform_at=platform_at,
            bot_id=bot_id,
            user_id=user_id,
        )
        requests = (status.requests if status else 0) + 1
        _move(status, event, requests=requests, unclear_answers=0)
        actor = _actor(bot_id=bot_id, user_id=user_id)
        _journal(event, actor)
    return event


def _actor(*, bot_id: int | None = None, user_id: int | None = None) -> Actor:
    if user_id:
        return Actor.user(user_id, "manager")
    if bot_id:
        return Actor(kind="app", role="consent_bot", user_id=bot_id)
    return Actor.system("consent")


def consent_answer(
    *,
    portal: Portal,
    client_ref: str,
    lead_id: int | None,
    purpose: str,
    reply: str,
    place: ChatPlace,
    message_id: int | None,
    platform_at: datetime | None = None,
    bot_id: int | None = None,
) -> Answered:
    """Record the client's reply to the pending request; a repeat records nothing."""
    _check(client_ref, purpose)
    answer = classify_reply(reply)
    with transaction.atomic():
        status = _locked_status(portal, client_ref, purpose)
        if message_id is not None:
            repeated = ConsentEvent.objects.filter(
                portal=portal, purpose=purpose, message_id=message_id
            ).first()
            if repeated is not None and status is not None:
                return Answered(repeated, status, False)
        if status is None or status.state != State.PENDING:
            raise LedgerError("no consent request is awaiting an answer")

        # The text the client saw is the one of the latest request, which
        # the pending state points at (not the version current now).
        shown = status.document
        changes: dict[str, object] = {}
        if answer is Reply.YES:
            state = State.GRANTED
            changes = {"granted_at": timezone.now(), "withdrawn_at": None}
            changes["destroy_by"] = None
        elif answer is Reply.NO:
            state = State.DENIED
        else:
            state = State.PENDING
            changes = {"unclear_answers": status.unclear_answers + 1}

        event = _append(
            portal=portal,
            client_ref=client_ref,
            lead_id=lead_id or status.lead_id,
            purpose=purpose,
            kind=Kind.ANSWERED,
            document=shown,
            place=place,
            status_after=state,
            message_id=message_id,
            platform_at=platform_at,
            reply=reply,
            answer=answer.value,
            bot_id=bot_id,
        )
        status = _move(status, event, **changes)
        _journal(event, Actor.system("client"))
        if state == State.GRANTED and purpose == Purpose.PROCESSING:
            for ref in _client_refs(client_ref, event.lead_id, place):
                _unblock_after_consent(portal, ref)
        if answer is not Reply.UNCLEAR:
            _after_commit(event)
    return Answered(event, status, True)


def consent_withdraw(
    *,
    portal: Portal,
    client_ref: str,
    lead_id: int | None,
    place: ChatPlace,
    message_id: int | None = None,
    reply: str = "",
    manager_user_id: int | None = None,
    note: str = "",
    purposes: Iterable[str] | None = None,
    platform_at: datetime | None = None,
) -> list[ConsentEvent]:
    """Withdraw consent (all purposes unless named); stop the AI; start the clock.

    From the chat (the client's message) or recorded by a manager (a call,
    a letter) with the manager's id and a note. Already withdrawn purposes
    keep their first deadline. Returns the events written.
    """
    if not valid_client_ref(client_ref):
        raise LedgerError("client_ref must look like lead:1043 or chat:5512")
    if manager_user_id is None and place.channel == Channel.MANAGER:
        raise LedgerError("a withdrawal recorded by a manager names the manager")
    chosen = list(purposes) if purposes is not None else None
    if chosen is not None and not set(chosen) <= set(Purpose.values):
        raise LedgerError("unknown purpose")

    now = timezone.now()
    actor = (
        Actor.user(manager_user_id, "manager")
        if manager_user_id
        else Actor.system("client")
    )
    written = []
    with transaction.atomic():
        statuses = {
            s.purpose: s
            for s in ConsentStatus.objects.select_for_update()
            .filter(portal=portal, client_ref=client_ref)
            .order_by("purpose")
        }
        if chosen is None:
            chosen = list(statuses) or [Purpose.PROCESSING.value]

        for purpose in chosen:
            status = statuses.get(purpose)
            if status is not None and status.state == State.WITHDRAWN:
                continue
            if (
                message_id is not None
                and ConsentEvent.objects.filter(
                    portal=portal, purpose=purpose, message_id=message_id
                ).exists()
            ):
                continue
            document = (
                status.document
                if status is not None
                else document_current(portal=portal, purpose=purpose)
            )
            event = _append(
                portal=portal,
                client_ref=client_ref,
                lead_id=lead_id or (status.lead_id if status else None),
                purpose=purpose,
                kind=Kind.WITHDRAWN,
                document=document,
                place=place,
                status_after=State.WITHDRAWN,
                message_id=message_id,
                platform_at=platform_at,
                reply=reply,
                user_id=manager_user_id,
                note=note,
            )
            _move(
                status,
                event,
                withdrawn_at=now,
                destroy_by=now + DESTROY_WITHIN,
            )
            _journal(event, actor)
            _after_commit(event)
            written.append(event)

        if written:
            # 152-FZ art. 21 part 5: processing stops on withdrawal, the AI
            # vendor's included; the block commits with the withdrawal.
            for ref in _client_refs(client_ref, lead_id, place):
                client_block(portal=portal, client_ref=ref, actor=actor)
    return written


def _unblock_after_consent(portal: Portal, client_ref: str) -> None:
    # A client who withdrew and now agrees again may be served again; a
    # block for another reason (an erasure request) stays.
    withdrawn = BlockedClient.objects.filter(
        portal=portal,
        client_ref=client_ref,
        reason=BlockedClient.Reason.CONSENT_WITHDRAWN,
    )
    if withdrawn.exists():
        client_unblock(portal=portal, client_ref=client_ref, actor=_actor())


def _client_refs(client_ref: str, lead_id: int | None, place: ChatPlace) -> list[str]:
    refs = [client_ref]
    if lead_id and f"lead:{lead_id}" not in refs:
        refs.append(f"lead:{lead_id}")
    if place.chat_id and f"chat:{place.chat_id}" not in refs:
        refs.append(f"chat:{place.chat_id}")
    return refs


def client_rebind(*, portal: Portal, chat_id: int, lead_id: int) -> int:
    """A chat's client became a lead: carry its consent states over to the lead.

    Open lines may save a chat to the CRM after it began; the client asked
    under ``chat:N`` must not be asked again as ``lead:M``. Events keep the
    reference they were written with (and carry the chat id); the states
    move. A state the lead already has wins. Returns how many moved.
    """
    old, new = f"chat:{int(chat_id)}", f"lead:{int(lead_id)}"
    moved = 0
    with transaction.atomic():
        taken = set(
            ConsentStatus.objects.filter(portal=portal, client_ref=new).values_list(
                "purpose", flat=True
            )
        )
        for status in ConsentStatus.objects.select_for_update().filter(
            portal=portal, client_ref=old
        ):
            if status.purpose in taken:
                continue
            status.client_ref, status.lead_id = new, lead_id
            status.save(update_fields=["client_ref", "lead_id"])
            moved += 1
    return moved


def renewal_mark(*, portal: Portal, document: ConsentDocument, actor: Actor) -> int:
    """Mark consents granted under older texts of the purpose as needing renewal."""
    marked = 0
    with transaction.atomic():
        stale = (
            ConsentStatus.objects.select_for_update()
            .filter(portal=portal, purpose=document.purpose, state=State.GRANTED)
            .exclude(document=document)
            .select_related("document")
            .order_by("pk")
        )
        for status in stale:
            event = _append(
                portal=portal,
                client_ref=status.client_ref,
                lead_id=status.lead_id,
                purpose=status.purpose,
                kind=Kind.RENEWAL,
                document=document,
                place=ChatPlace(),
                status_after=State.NEEDS_RENEWAL,
            )
            _move(status, event)
            _journal(event, actor)
            _after_commit(event)
            marked += 1
    return marked


# --- reading ----------------------------------------------------------------


def withdrawn_leads(portal: Portal) -> Iterator[WithdrawnLead]:
    """Leads whose processing consent is withdrawn, earliest deadline first."""
    rows = (
        ConsentStatus.objects.filter(
            portal=portal,
            purpose=Purpose.PROCESSING,
            state=State.WITHDRAWN,
            lead_id__isnull=False,
        )
        .order_by("destroy_by", "lead_id")
        .values_list("lead_id", "withdrawn_at", "destroy_by")
    )
    for lead_id, withdrawn_at, destroy_by in rows.iterator(chunk_size=1000):
        # Set together with the withdrawn state (see consent_withdraw).
        assert lead_id is not None and withdrawn_at is not None
        assert destroy_by is not None
        yield WithdrawnLead(lead_id, withdrawn_at, destroy_by)


def lead_statuses(*, portal: Portal, lead_id: int) -> dict[str, ConsentStatus]:
    """The lead's current consent per purpose."""
    rows = ConsentStatus.objects.filter(portal=portal, lead_id=lead_id).select_related(
        "document"
    )
    return {row.purpose: row for row in rows}


def lead_history(*, portal: Portal, lead_id: int) -> list[ConsentEvent]:
    """Every ledger event of the lead, oldest first."""
    return list(
        ConsentEvent.objects.filter(portal=portal, lead_id=lead_id).order_by("at", "pk")
    )


def client_status(*, portal: Portal, client_ref: str, purpose: str) -> str | None:
    """The state of one consent, or None when the client was never asked."""
    return (
        ConsentStatus.objects.filter(
            portal=portal, client_ref=client_ref, purpose=purpose
        )
        .values_list("state", flat=True)
        .first()
    )


def evidence_read(
    *, portal: Portal, lead_id: int, actor: Actor
) -> list[dict[str, Any]]:
    """The full evidence of a lead's consents, raw replies included; journaled.

    For an inspection or the client's own request (152-FZ art. 9 part 3:
    the operator proves consent). Reading the sealed replies is an access
    to personal data, so it is recorded in the same transaction.
    """
    with transaction.atomic():
        events = list(
            ConsentEvent.objects.filter(portal=portal, lead_id=lead_id)
            .select_related("document")
            .order_by("at", "pk")
        )
        journal_record(
            portal=portal,
            action="consent.evidence.read",
            actor=actor,
            subject=_subject(lead_id),
            details={"lead_id": _id(lead_id), "events": len(events)},
        )
    return [
        {
            "event_id": event.pk,
            "kind": event.kind,
            "purpose": event.purpose,
            "status_after": event.status_after,
            "answer": event.answer,
            "at": event.at.isoformat(),
            "platform_at": event.platform_at.isoformat() if event.platform_at else None,
            "document_version": event.document_version,
            "document_sha256": event.document_sha256,
            "document_text": event.document.text,
            "operator": event.document.operator,
            "processors": event.document.processors,
            "channel": event.channel,
            "connector_id": event.connector_id,
            "line_id": event.line_id,
            "chat_id": event.chat_id,
            "dialog_id": event.dialog_id,
            "message_id": event.message_id,
            "channel_ref": event.unseal(event.channel_ref_sealed),
            "reply": event.reply,
            "asked_by_bot_id": event.asked_by_bot_id,
            "actor_user_id": event.actor_user_id,
            "note": event.note,
            "lead_id": event.lead_id,
        }
        for event in events
    ]

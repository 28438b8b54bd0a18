"""Inbound Bitrix24 events: verify, record, enqueue, answer.

Anyone can POST to the handler URL, so a body proves nothing until its
``auth[application_token]`` matches, in constant time, the token stored for
its ``auth[member_id]``. ONAPPINSTALL is the exception: it introduces a
portal, and is verified at the auth server instead (see ``install``).
Events carry ids only and are never retried by Bitrix24, so the receiver
does no work of its own beyond one lookup and one insert: it records the
delivery (a repeat hits the unique key and stops there), enqueues a task
after the commit and answers at once.
"""

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from integrator import install, phpquery
from integrator.install import tokens_match
from integrator.models import Portal

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


class EventRejected(Exception):
    """The body is not an event this app accepts; ``status`` is the answer."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class InboundEvent:
    """An event body, parsed; nothing in it is trusted yet."""

    name: str
    member_id: str
    application_token: str
    ts: int | None
    handler_id: str
    data: Mapping[str, Any]
    auth: Mapping[str, Any] = field(repr=False)

    @property
    def entity_id(self) -> int | None:
        """The CRM object id of ``data[FIELDS][ID]`` as an int, if there is one."""
        fields = self.data.get("FIELDS")
        if not isinstance(fields, Mapping):
            return None
        return _positive_int(fields.get("ID"))


def parse_event(body: bytes, content_type: str) -> InboundEvent:
    """Read a form-encoded (as Bitrix24 sends it) or JSON event body."""
    if len(body) > MAX_BODY_BYTES:
        raise EventRejected(400, "body too large")
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise EventRejected(400, "malformed JSON") from exc
    else:
        payload = phpquery.decode(body)
    if not isinstance(payload, dict):
        raise EventRejected(400, "the body is not a mapping")

    name = payload.get("event")
    auth = payload.get("auth")
    data = payload.get("data", {})
    if not isinstance(name, str) or not name:
        raise EventRejected(400, "no event name")
    if not isinstance(auth, dict) or not isinstance(data, dict | list):
        raise EventRejected(400, "no auth block")
    member_id = auth.get("member_id")
    token = auth.get("application_token")
    if not isinstance(member_id, str) or not isinstance(token, str):
        raise EventRejected(400, "auth lacks member_id or application_token")
    if not member_id or not token:
        raise EventRejected(400, "auth lacks member_id or application_token")

    ts = payload.get("ts")
    handler_id = payload.get("event_handler_id", "")
    return InboundEvent(
        name=name.upper(),
        member_id=member_id,
        application_token=token,
        ts=_positive_int(ts),
        handler_id=str(handler_id)[:32],
        # PHP turns an empty map into [], which carries nothing.
        data=data if isinstance(data, dict) else {},
        auth=auth,
    )


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and len(value) <= 18:
        number = int(value)
        return number if number > 0 else None
    return None


def delivery_key(event: InboundEvent, *, now: float | None = None) -> str:
    """What makes two deliveries the same event (see ``EventDelivery``)."""
    # Bitrix24 always sends ts; without one, the second of arrival stands in,
    # so a body lacking it cannot shadow every later event of its object.
    ts = event.ts or int(time.time() if now is None else now)
    data = json.dumps(event.data, sort_keys=True, ensure_ascii=True)
    raw = f"{event.member_id}\n{event.name}\n{ts}\n{data}"
    return hashlib.sha256(raw.encode()).hexdigest()


# --- authentication ---------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    portal_id: int
    token: str = field(repr=False)
    until: float


# member_id -> a recent positive match, per process. Only matches are kept:
# a token that does not match is always checked against the database, so a
# token renewed by ONAPPUPDATE is accepted at once. What a stale entry can do
# is accept an event for KNOWN_SECONDS after an uninstall; the task then finds
# the portal uninstalled and stops.
KNOWN_SECONDS = 5.0
KNOWN_MAX = 10_000
_known: dict[str, _Known] = {}


def forget_known(member_id: str) -> None:
    _known.pop(member_id, None)


def portal_by_token(event: InboundEvent, *, fresh: bool = False) -> Portal:
    """The portal whose stored application token this event carries."""
    now = time.monotonic()
    known = None if fresh else _known.get(event.member_id)
    if (
        known is not None
        and known.until > now
        and tokens_match(known.token, event.application_token)
    ):
        return Portal(pk=known.portal_id, member_id=event.member_id)

    portal = (
        Portal.objects.filter(member_id=event.member_id)
        .only("id", "member_id", "application_token", "status")
        .first()
    )
    if portal is None:
        raise EventRejected(401, "unknown portal")
    if portal.status == Portal.Status.UNINSTALLED:
        forget_known(event.member_id)
        raise EventRejected(401, "the app is not installed on this portal")
    if not tokens_match(portal.application_token, event.application_token):
        raise EventRejected(401, "application token mismatch")

    if len(_known) >= KNOWN_MAX:
        _known.clear()
    _known[event.member_id] = _Known(
        portal_id=portal.pk, token=portal.application_token, until=now + KNOWN_SECONDS
    )
    return portal


def portal_by_token_fresh(event: InboundEvent) -> Portal:
    """For events that change the install: always the stored row."""
    portal = portal_by_token(event, fresh=True)
    forget_known(event.member_id)
    return portal


def portal_by_install(event: InboundEvent) -> Portal:
    try:
        return install.portal_from_install_event(event.auth, data=event.data)
    except install.InstallRejected as exc:
        raise EventRejected(401, exc.reason) from exc


def portal_by_update(event: InboundEvent) -> Portal:
    """ONAPPUPDATE may bring a new application token; it is then verified anew."""
    try:
        return portal_by_token_fresh(event)
    except EventRejected as exc:
        if exc.reason != "application token mismatch":
            raise
    try:
        return install.portal_from_update_event(event.auth)
    except install.InstallRejected as exc:
        raise EventRejected(401, exc.reason) from exc


# --- actions after a new delivery was recorded --------------------------------


def enqueue_lead_changed(portal: Portal, event: InboundEvent, delivery_id: int) -> None:
    from integrator import tasks

    lead_id = event.entity_id
    if lead_id is None:
        return
    transaction.on_commit(
        lambda: tasks.process_lead_event.delay(
            delivery_id=delivery_id, portal_id=portal.pk, lead_id=lead_id
        )
    )


def enqueue_setup(portal: Portal, event: InboundEvent, delivery_id: int) -> None:
    install.schedule_setup(portal_id=portal.pk, delivery_id=delivery_id)


def uninstall(portal: Portal, event: InboundEvent, delivery_id: int) -> None:
    clean = str(event.data.get("CLEAN", "0")) == "1"
    install.portal_uninstall(portal_id=portal.pk, clean=clean, delivery_id=delivery_id)


@dataclass(frozen=True)
class Handler:
    authenticate: Callable[[InboundEvent], Portal]
    act: Callable[[Portal, InboundEvent, int], None]
    needs_entity: bool = False


HANDLERS: dict[str, Handler] = {
    "ONCRMLEADADD": Handler(portal_by_token, enqueue_lead_changed, needs_entity=True),
    "ONCRMLEADUPDATE": Handler(
        portal_by_token, enqueue_lead_changed, needs_entity=True
    ),
    "ONCRMLEADDELETE": Handler(
        portal_by_token, enqueue_lead_changed, needs_entity=True
    ),
    "ONAPPINSTALL": Handler(portal_by_install, enqueue_setup),
    "ONAPPUPDATE": Handler(portal_by_update, enqueue_setup),
    "ONAPPUNINSTALL": Handler(portal_by_token_fresh, uninstall),
}


# --- the receiver -------------------------------------------------------------


_INSERT = """
INSERT INTO integrator_eventdelivery
    (portal_id, event, entity_id, handler_id, ts, key, received_at,
     processed_at, outcome, attempts)
VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, '', 0)
ON CONFLICT (key) DO NOTHING
RETURNING id
"""


def record_delivery(portal: Portal, event: InboundEvent) -> int | None:
    """Insert the delivery; ``None`` when the same event was recorded before."""
    # One statement instead of get_or_create's savepoint, select and insert:
    # two copies arriving at once race on the unique key, and exactly one
    # of them gets an id back.
    params: list[Any] = [
        portal.pk,
        event.name,
        event.entity_id,
        event.handler_id,
        event.ts,
        delivery_key(event),
        timezone.now(),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, params)
        row = cursor.fetchone()
    return int(row[0]) if row else None


def receive_event(event: InboundEvent) -> int | None:
    """Verify, record and enqueue one event; the id of a new delivery or None."""
    handler = HANDLERS.get(event.name)
    if handler is None:
        raise EventRejected(400, "unknown event")
    if handler.needs_entity and event.entity_id is None:
        raise EventRejected(400, "the event names no object")
    portal = handler.authenticate(event)

    # One INSERT, committed on its own: no BEGIN/COMMIT round trips. The
    # handlers enqueue with on_commit, which therefore fires right away here
    # and after the outer commit when a caller holds a transaction.
    delivery_id = record_delivery(portal, event)
    if delivery_id is not None:
        handler.act(portal, event, delivery_id)

    if delivery_id is None:
        logger.info("repeat of %s for portal %s ignored", event.name, portal.member_id)
    return delivery_id

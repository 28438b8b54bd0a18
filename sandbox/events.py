"""Outbound events: built when the change commits, sent by a background thread.

Bodies are ``application/x-www-form-urlencoded`` with PHP-style keys, every
scalar a string, as Bitrix24's queue server posts them. Delivery is at most
once (no retries) and every attempt is recorded with the app's HTTP status.
"""

import logging
import queue
import threading
from functools import partial
from typing import Any

import requests
from django.db import connections, transaction
from django.utils import timezone

from sandbox import clock, faults, phpquery
from sandbox.models import (
    AppRegistration,
    EventBinding,
    EventDelivery,
    Install,
    Portal,
    new_member_id,
    new_token,
)
from sandbox.portals import client_endpoint, sandbox_host, server_endpoint
from sandbox.router import SANDBOX_DB

logger = logging.getLogger(__name__)

SEND_TIMEOUT = 10.0

_queue: "queue.Queue[int]" = queue.Queue()
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()
_idle = threading.Condition()
_in_flight = 0


def _auth_block(
    *,
    portal: Portal,
    install: Install,
    user_uid: int | None,
    with_refresh: bool = True,
) -> dict[str, Any]:
    """``auth[...]``: tokens of ``user_uid`` (none for robots) and the portal."""
    from sandbox.oauth import token_issue

    auth: dict[str, Any] = {}
    if user_uid is not None:
        token = token_issue(portal=portal, app=install.app, user_uid=user_uid)
        auth.update(
            {
                "access_token": token.access_token,
                "expires": str(int(token.access_expires_at)),
                "expires_in": str(portal.access_ttl),
                "scope": install.app.scope,
            }
        )
    auth.update(
        {
            "domain": sandbox_host(),
            "server_endpoint": server_endpoint(),
            "status": portal.status_letter,
            "client_endpoint": client_endpoint(portal),
            "member_id": portal.member_id,
        }
    )
    if user_uid is not None:
        auth["user_id"] = str(user_uid)
        if with_refresh:
            auth["refresh_token"] = token.refresh_token
    auth["application_token"] = install.application_token
    return auth


def _apply_faults(portal: Portal, auth: dict[str, Any]) -> None:
    if faults.take(portal, "event_wrong_token"):
        auth["application_token"] = new_token()
    if faults.take(portal, "event_foreign_member"):
        auth["member_id"] = new_member_id()


def _record(portal: Portal, event: str, handler: str, body: str) -> None:
    """Store the delivery (or its deliberate loss) and queue it after commit."""
    if faults.take(portal, "event_corrupt"):
        body = body[: len(body) // 2] + "%ZZ&&data[[FIELDS]=%"
    copies = 2 if faults.take(portal, "event_duplicate") else 1
    for _ in range(copies):
        delivery = EventDelivery.objects.create(
            portal=portal, event=event, handler=handler, body=body
        )
        if faults.take(portal, "event_drop"):
            delivery.outcome = EventDelivery.Outcome.DROPPED
            delivery.finished_at = timezone.now()
            delivery.save(update_fields=["outcome", "finished_at"])
            continue
        delay = float(portal.faults.get("event_delay") or 0)
        transaction.on_commit(partial(_enqueue, delivery.pk, delay), using=SANDBOX_DB)


def emit(
    *,
    portal: Portal,
    event: str,
    entity_id: int,
    user_uid: int,
    robot: bool = False,
) -> int:
    """Fan a CRM event out to every handler bound by an installed app."""
    robot = robot or faults.take(portal, "event_robot")
    bindings = EventBinding.objects.filter(portal=portal, event=event).select_related(
        "app"
    )
    sent = 0
    for binding in bindings.order_by("pk"):
        install = Install.objects.filter(
            portal=portal, app=binding.app, active=True, installed=True
        ).first()
        if install is None:
            continue  # nothing is delivered before installFinish
        who = None if robot else (binding.auth_type or user_uid)
        auth = _auth_block(portal=portal, install=install, user_uid=who)
        _apply_faults(portal, auth)
        body = {
            "event": event,
            "event_handler_id": str(binding.pk),
            "data": {"FIELDS": {"ID": str(entity_id)}},
            "ts": str(int(clock.now())),
            "auth": auth,
        }
        _record(portal, event, binding.handler, phpquery.encode(body))
        sent += 1
    return sent


def emit_app_event(
    *,
    portal: Portal,
    install: Install,
    event: str,
    handler: str,
    data: dict[str, Any],
    user_uid: int | None,
) -> None:
    """ONAPPINSTALL / ONAPPUNINSTALL: to the app's URL, ignoring installFinish."""
    auth = _auth_block(portal=portal, install=install, user_uid=user_uid)
    _apply_faults(portal, auth)
    body = {
        "event": event,
        "event_handler_id": "0",
        "data": data,
        "ts": str(int(clock.now())),
        "auth": auth,
    }
    _record(portal, event, handler, phpquery.encode(body))


def bot_auth(*, portal: Portal, install: Install) -> dict[str, Any]:
    """A bot's own tokens inside ``data[BOT][<id>]`` (the installing admin's)."""
    auth = _auth_block(portal=portal, install=install, user_uid=install.installed_by)
    auth["client_id"] = install.app.client_id
    return auth


def install_event_data(app: AppRegistration, portal: Portal) -> dict[str, str]:
    return {
        "VERSION": app.version,
        "ACTIVE": "Y",
        "INSTALLED": "Y",
        "LANGUAGE_ID": portal.language,
    }


# --- the dispatcher thread ---------------------------------------------------


def _enqueue(delivery_id: int, delay: float) -> None:
    global _in_flight
    with _idle:
        _in_flight += 1
    if delay > 0:
        timer = threading.Timer(delay, _queue.put, args=(delivery_id,))
        timer.daemon = True
        timer.start()
    else:
        _queue.put(delivery_id)
    _ensure_thread()


def _ensure_thread() -> None:
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="sandbox-events", daemon=True)
            _thread.start()


def _run() -> None:
    global _in_flight
    session = requests.Session()
    while True:
        delivery_id = _queue.get()
        try:
            _deliver(session, delivery_id)
        except Exception:
            logger.exception("event delivery %s crashed", delivery_id)
        finally:
            # Connections of this thread would otherwise outlive test databases.
            connections.close_all()
            with _idle:
                _in_flight -= 1
                _idle.notify_all()


def _deliver(session: requests.Session, delivery_id: int) -> None:
    delivery = EventDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        return
    try:
        response = session.post(
            delivery.handler,
            data=delivery.body.encode("utf-8"),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "Bitrix24 Webhook Engine",
            },
            timeout=SEND_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        delivery.outcome = EventDelivery.Outcome.FAILED
        delivery.error = type(exc).__name__
    else:
        delivery.http_status = response.status_code
        ok = 200 <= response.status_code < 300
        delivery.outcome = (
            EventDelivery.Outcome.DELIVERED if ok else EventDelivery.Outcome.FAILED
        )
    delivery.finished_at = timezone.now()
    delivery.save(update_fields=["outcome", "http_status", "error", "finished_at"])
    if delivery.outcome == EventDelivery.Outcome.FAILED:
        logger.warning(
            "event %s to app failed (status %s, %s)",
            delivery.event,
            delivery.http_status,
            delivery.error or "-",
        )


def wait_idle(timeout: float) -> bool:
    """Block until every queued delivery has been attempted (or timeout)."""
    with _idle:
        return _idle.wait_for(lambda: _in_flight == 0, timeout=timeout)

"""The portal's REST surface: auth, limits, the envelope, errors, dispatch."""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction

from sandbox import clock, faults, limits, phpquery
from sandbox.models import (
    AppRegistration,
    Install,
    Portal,
    Token,
    User,
    Webhook,
)
from sandbox.router import SANDBOX_DB

logger = logging.getLogger(__name__)


class RestError(Exception):
    """An error answer: ``{"error": code, "error_description": text}``."""

    def __init__(
        self,
        code: str,
        description: str,
        status: int = 400,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.description, **self.extra}


def legacy_error(description: str, status: int = 400) -> RestError:
    """Legacy crm.lead.* errors carry an empty code and the text alone."""
    return RestError("", description, status)


@dataclass
class Call:
    """One method call in the context of its portal, caller and user."""

    portal: Portal
    user: User
    params: dict[str, Any]
    app: AppRegistration | None = None
    install: Install | None = None
    token: Token | None = None
    webhook: Webhook | None = None
    scopes: set[str] = field(default_factory=set)
    in_batch: bool = False
    ip: str = "127.0.0.1"

    @property
    def caller_key(self) -> str:
        if self.app is not None:
            return f"app:{self.app.client_id}"
        return f"hook:{self.webhook.code if self.webhook else ''}"

    def require_app(self) -> None:
        if self.app is None:
            raise RestError("WRONG_AUTH_TYPE", "Application context required", 403)

    def require_admin(self) -> None:
        if not self.user.is_admin:
            raise RestError("ACCESS_DENIED", "Access denied! Admin only", 403)

    def param(self, *names: str) -> Any:
        """The first present parameter among names (Bitrix24 accepts both cases)."""
        for name in names:
            if name in self.params:
                return self.params[name]
        return None


@dataclass
class Page:
    """A list result with its paging: ``total`` and ``next``."""

    result: Any
    total: int | None = None
    next: int | None = None


Handler = Callable[[Call], Any]
METHODS: dict[str, tuple[Handler, str]] = {}

# Scopes that every app and webhook has.
BASIC = "basic"


def method(name: str, scope: str = BASIC) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = (handler, scope)
        return handler

    return register


def iso(moment: datetime | float, tz: str) -> str:
    """Bitrix24's date format: ISO 8601 with the portal's offset, no fraction."""
    if isinstance(moment, float | int):
        moment = datetime.fromtimestamp(moment, tz=UTC)
    return moment.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat()


def time_block(
    call_portal: Portal, start: float, finish: float, operating: float, reset_at: int
) -> dict[str, Any]:
    return {
        "start": start,
        "finish": finish,
        "duration": finish - start,
        "processing": finish - start,
        "date_start": iso(start, call_portal.time_zone),
        "date_finish": iso(finish, call_portal.time_zone),
        "operating_reset_at": reset_at,
        "operating": operating,
    }


# --- parameters -------------------------------------------------------------


def parse_params(query_string: str, content_type: str, body: bytes) -> dict[str, Any]:
    """Merge query and body parameters; the body is JSON or a PHP-style form."""
    params = phpquery.parse(query_string)
    if not body:
        return params
    if content_type.startswith("application/json"):
        try:
            decoded = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RestError(
                "INVALID_REQUEST", "Request body is not valid JSON", 400
            ) from exc
        if not isinstance(decoded, dict):
            raise RestError("INVALID_REQUEST", "Request body must be an object", 400)
        params.update(decoded)
    elif content_type.startswith("multipart/form-data"):
        raise RestError("INVALID_REQUEST", "multipart bodies are not supported", 400)
    else:
        params.update(phpquery.parse(body.decode("utf-8", errors="replace")))
    return params


# --- authentication ---------------------------------------------------------


def authenticate_token(portal: Portal, params: dict[str, Any], ip: str) -> Call:
    access = params.get("auth")
    if not access or not isinstance(access, str):
        raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
    token = (
        Token.objects.select_related("app", "portal")
        .filter(access_token=access)
        .first()
    )
    if token is None or token.portal_id != portal.pk:
        raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
    install = Install.objects.filter(portal=portal, app=token.app).first()
    if install is None or not install.active:
        raise RestError("invalid_token", "Unable to get application by token", 401)
    if not token.alive or token.access_expires_at <= clock.now():
        raise RestError("expired_token", "The access token provided has expired.", 401)
    user = User.objects.filter(portal=portal, uid=token.user_uid).first()
    if user is None or not user.active:
        raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
    return Call(
        portal=portal,
        user=user,
        params=params,
        app=token.app,
        install=install,
        token=token,
        scopes=token.app.scopes() | {BASIC},
        ip=ip,
    )


def authenticate_webhook(
    portal: Portal, uid: int, code: str, params: dict[str, Any], ip: str
) -> Call:
    hook = Webhook.objects.filter(portal=portal, user_uid=uid, code=code).first()
    user = User.objects.filter(portal=portal, uid=uid).first()
    if hook is None or user is None or not user.active:
        raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
    scopes = {s.strip() for s in hook.scope.split(",") if s.strip()} | {BASIC}
    return Call(
        portal=portal, user=user, params=params, webhook=hook, scopes=scopes, ip=ip
    )


# --- one call ---------------------------------------------------------------


def _scope_ok(call: Call, scope: str) -> bool:
    if scope == BASIC:
        return True
    if scope == "user":
        return bool({"user", "user_brief", "user_basic"} & call.scopes)
    return scope in call.scopes


def execute(call: Call, method_name: str) -> tuple[Any, dict[str, Any]]:
    """Run one method with scope and operating-time checks; (result, time)."""
    name = method_name.lower()
    entry = METHODS.get(name)
    if entry is None:
        raise RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
    handler, scope = entry
    if not _scope_ok(call, scope):
        raise RestError(
            "insufficient_scope",
            "The request requires higher privileges than provided by the token",
            403,
        )

    member, caller = call.portal.member_id, call.caller_key
    now = clock.now()
    spent = limits.operating(member_id=member, caller=caller, method=name, now=now)
    blocked = name in (call.portal.faults.get("block_methods") or [])
    if blocked or spent >= call.portal.operating_limit:
        faults.bump(call.portal, "operation_limit_429")
        raise RestError(
            "OPERATION_TIME_LIMIT",
            "Method is blocked due to operation time limit.",
            429,
        )

    started = time.time()
    with transaction.atomic(using=SANDBOX_DB):
        result = handler(call)
    finished = time.time()

    cost = float((call.portal.faults.get("method_costs") or {}).get(name, 0.0))
    now = clock.now()
    if name != "batch":
        # A batch's commands are counted one by one; the envelope is not.
        limits.operating_add(
            member_id=member,
            caller=caller,
            method=name,
            now=now,
            seconds=(finished - started) + cost,
        )
    spent = limits.operating(member_id=member, caller=caller, method=name, now=now)
    reset_at = limits.operating_reset_at(
        member_id=member, caller=caller, method=name, now=now
    )
    return result, time_block(call.portal, started, finished, spent, reset_at)


def envelope(result: Any, timing: dict[str, Any]) -> dict[str, Any]:
    if isinstance(result, Page):
        body: dict[str, Any] = {"result": result.result}
        if result.next is not None:
            body["next"] = result.next
        if result.total is not None:
            body["total"] = result.total
        body["time"] = timing
        return body
    return {"result": result, "time": timing}

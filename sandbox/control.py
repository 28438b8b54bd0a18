"""The control API under /_sandbox/: what tests and the demo use to steer portals."""

import json
import logging
from collections.abc import Callable
from typing import Any

import requests
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import clock, crm, events, faults, limits, openlines
from sandbox.install import (
    app_frame,
    app_registration,
    install_finish,
    install_start,
    placement_frame,
    uninstall,
)
from sandbox.models import (
    AppRegistration,
    Chat,
    ChatMessage,
    EventDelivery,
    Install,
    Lead,
    LeadUserField,
    Portal,
    PortalMove,
    User,
    Webhook,
)
from sandbox.oauth import code_issue, expire_portal_tokens, token_issue, token_payload
from sandbox.portals import (
    client_endpoint,
    portal_base,
    portal_by_ref,
    portal_create,
    sandbox_origin,
)
from sandbox.router import SANDBOX_DB

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]
PORTAL_SETTINGS = (
    "plan", "title", "bucket_rate", "bucket_burst", "operating_limit",
    "access_ttl", "refresh_ttl", "time_zone", "language", "license",
)  # fmt: skip
APP_SETTINGS = (
    "client_secret", "code", "title", "version", "base_url", "install_path",
    "install_event_path", "app_path", "redirect_path", "scope",
)  # fmt: skip


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ControlError("body must be JSON") from exc
    if not isinstance(data, dict):
        raise ControlError("body must be a JSON object")
    return data


def control(view: View) -> View:
    """JSON in, JSON out, clear errors; CSRF does not apply to a test API."""

    @csrf_exempt
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            result = view(request, _body(request), *args, **kwargs)
        except ControlError as error:
            return JsonResponse({"error": str(error)}, status=error.status)
        return JsonResponse(result, safe=False)

    return wrapped


def _portal(ref: str) -> Portal:
    portal = portal_by_ref(ref)
    if portal is None:
        raise ControlError(f"no portal {ref!r}", 404)
    return portal


def _user(portal: Portal, uid: Any, default: int = 1) -> User:
    user = User.objects.filter(portal=portal, uid=int(uid or default)).first()
    if user is None:
        raise ControlError(f"no user {uid} on this portal", 404)
    return user


def portal_info(portal: Portal) -> dict[str, Any]:
    install = Install.objects.filter(portal=portal).first()
    return {
        "slug": portal.slug,
        "title": portal.title,
        "member_id": portal.member_id,
        "plan": portal.plan,
        "base_url": portal_base(portal),
        "client_endpoint": client_endpoint(portal),
        "limits": {"rate": portal.limits()[0], "burst": portal.limits()[1]},
        "access_ttl": portal.access_ttl,
        "install": None
        if install is None
        else {
            "active": install.active,
            "installed": install.installed,
            "application_token": install.application_token,
        },
        "users": [
            {
                "id": u.uid,
                "name": u.full_name,
                "admin": u.is_admin,
                "crm_access": u.crm_access,
            }
            for u in portal.users.order_by("uid")
        ],
        "faults": portal.faults,
    }


def app_info(app: AppRegistration) -> dict[str, Any]:
    data = {key: getattr(app, key) for key in APP_SETTINGS}
    data["client_id"] = app.client_id
    return data


# --- portals -------------------------------------------------------------------


@control
def portals(request: HttpRequest, body: dict[str, Any]) -> Any:
    if request.method == "POST":
        slug = str(body.get("slug", ""))
        if slug in ("default", "-") or "/" in slug:
            raise ControlError("slug must be a plain word")
        portal = portal_create(
            slug=slug,
            plan=str(body.get("plan", "standard")),
            title=body.get("title", ""),
        )
        app_registration()
        return portal_info(portal)
    return [portal_info(p) for p in Portal.objects.order_by("pk")]


@control
def portal_detail(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    if request.method == "POST":
        for key in PORTAL_SETTINGS:
            if key in body:
                setattr(portal, key, body[key])
        portal.save()
    return portal_info(portal)


@control
def portal_users(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    if request.method == "POST":
        uid = int(
            body.get("id") or (max(portal.users.values_list("uid", flat=True)) + 1)
        )
        user, _ = User.objects.update_or_create(
            portal=portal,
            uid=uid,
            defaults={
                "name": str(body.get("name", "Сотрудник")),
                "last_name": str(body.get("last_name", "")),
                "is_admin": bool(body.get("admin", False)),
                "crm_access": str(body.get("crm_access", "all")),
                "active": bool(body.get("active", True)),
            },
        )
        return {"id": user.uid, "name": user.full_name}
    return portal_info(portal)["users"]


# --- leads -------------------------------------------------------------------


def _lead(portal: Portal, lead_id: int) -> Lead:
    lead = Lead.objects.filter(portal=portal, pk=lead_id).first()
    if lead is None:
        raise ControlError(f"no lead {lead_id}", 404)
    return lead


def _create_lead(portal: Portal, user: User, spec: dict[str, Any]) -> int:
    lead = crm.lead_create(
        portal=portal,
        fields=spec.get("fields") or {},
        user_uid=user.uid,
        robot=bool(spec.get("robot")),
    )
    if spec.get("date_create"):
        moment = crm.parse_date(str(spec["date_create"]), portal.time_zone)
        Lead.objects.filter(pk=lead.pk).update(date_create=moment, date_modify=moment)
    return lead.pk


@control
def leads(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    """Create one lead (``fields``) or many (``leads``: list of specs) as a user."""
    portal = _portal(ref)
    if request.method != "POST":
        return {"count": Lead.objects.filter(portal=portal).count()}
    user = _user(portal, body.get("user_id"))
    with transaction.atomic(using=SANDBOX_DB):
        if isinstance(body.get("leads"), list):
            return {"ids": [_create_lead(portal, user, spec) for spec in body["leads"]]}
        return {"id": _create_lead(portal, user, body)}


@control
def lead_detail(
    request: HttpRequest, body: dict[str, Any], ref: str, lead_id: int
) -> Any:
    portal = _portal(ref)
    lead = _lead(portal, lead_id)
    if request.method == "POST":
        user = _user(portal, body.get("user_id"))
        with transaction.atomic(using=SANDBOX_DB):
            crm.lead_change(
                lead=lead,
                fields=body.get("fields") or {},
                user_uid=user.uid,
                robot=bool(body.get("robot")),
            )
    lead = Lead.objects.prefetch_related("fm").get(pk=lead.pk)
    return crm.lead_full(lead, crm.uf_fields(portal))


@control
def lead_delete(
    request: HttpRequest, body: dict[str, Any], ref: str, lead_id: int
) -> Any:
    portal = _portal(ref)
    lead = _lead(portal, lead_id)
    user = _user(portal, body.get("user_id"))
    with transaction.atomic(using=SANDBOX_DB):
        crm.lead_remove(lead=lead, user_uid=user.uid, robot=bool(body.get("robot")))
    return {"deleted": lead_id}


@control
def userfields(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    return [crm.uf_payload(uf) for uf in LeadUserField.objects.filter(portal=portal)]


# --- the app --------------------------------------------------------------------


@control
def app(request: HttpRequest, body: dict[str, Any]) -> Any:
    registration = app_registration()
    if request.method == "POST":
        for key in APP_SETTINGS:
            if key in body:
                setattr(registration, key, body[key])
        registration.save()
    return app_info(registration)


def _post_frame(frame_data: dict[str, Any]) -> dict[str, Any]:
    try:
        response = requests.post(
            frame_data["url"],
            data=frame_data["form"],
            timeout=30,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return {"status": None, "error": type(exc).__name__}
    return {
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": response.text,
    }


@control
def install(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    admin = _user(portal, body.get("user_id"))
    try:
        frame = install_start(portal=portal, app=app_registration(), admin=admin)
    except PermissionError as exc:
        raise ControlError(str(exc), 403) from exc
    result: dict[str, Any] = {"frame": frame.as_dict()}
    if body.get("post_wizard", True):
        result["wizard"] = _post_frame(frame.as_dict())
    result["portal"] = portal_info(portal)
    return result


@control
def finish(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    current = Install.objects.filter(portal=portal, active=True).first()
    if current is None:
        raise ControlError("the app is not installed", 409)
    install_finish(current)
    return portal_info(portal)


@control
def remove(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    gone = uninstall(
        portal=portal, app=app_registration(), clean=bool(body.get("clean"))
    )
    if gone is None:
        raise ControlError("the app is not installed", 409)
    return portal_info(portal)


@control
def lead_tab(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    user = _user(portal, body.get("user_id"))
    lead = _lead(portal, int(body.get("lead_id") or 0))
    frame = placement_frame(
        portal=portal,
        app=app_registration(),
        user=user,
        placement=str(body.get("placement", "CRM_LEAD_DETAIL_TAB")),
        entity_id=lead.pk,
    )
    if frame is None:
        raise ControlError(
            "no such placement is shown (not bound or not installed)", 409
        )
    result = frame.as_dict()
    if body.get("post"):
        result["response"] = _post_frame(result)
    return result


@control
def main_page(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    user = _user(portal, body.get("user_id"))
    frame = app_frame(portal=portal, app=app_registration(), user=user)
    if frame is None:
        raise ControlError("the app is not installed", 409)
    result = frame.as_dict()
    if body.get("post"):
        result["response"] = _post_frame(result)
    return result


@control
def tokens(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    """A fresh token chain for a user, or an authorization code."""
    portal = _portal(ref)
    user = _user(portal, body.get("user_id"))
    registration = app_registration()
    if body.get("code"):
        return {
            "code": code_issue(portal=portal, app=registration, user_uid=user.uid).code
        }
    token = token_issue(portal=portal, app=registration, user_uid=user.uid)
    return token_payload(token)


@control
def expire(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    return {"expired": expire_portal_tokens(_portal(ref))}


@control
def webhooks(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    user = _user(portal, body.get("user_id"))
    hook = Webhook.objects.create(
        portal=portal, user_uid=user.uid, scope=str(body.get("scope", "crm,user_brief"))
    )
    return {"url": f"{portal_base(portal)}/rest/{user.uid}/{hook.code}/"}


@control
def move(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    new_slug = str(body.get("slug", ""))
    if not new_slug or Portal.objects.filter(slug=new_slug).exists():
        raise ControlError("the new slug must be free and not empty")
    with transaction.atomic(using=SANDBOX_DB):
        PortalMove.objects.update_or_create(
            old_slug=portal.slug, defaults={"portal": portal}
        )
        portal.slug = new_slug
        portal.save(update_fields=["slug"])
    return portal_info(portal)


# --- open lines ----------------------------------------------------------------


def _chat(portal: Portal, chat_id: int) -> Chat:
    chat = Chat.objects.filter(portal=portal, pk=chat_id).first()
    if chat is None:
        raise ControlError(f"no chat {chat_id}", 404)
    return chat


def _message(message: ChatMessage) -> dict[str, Any]:
    return {
        "id": message.pk,
        "author": message.author,
        "author_id": message.author_id,
        "text": message.text,
        "keyboard": message.keyboard,
        "system": message.system,
    }


@control
def chats(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    """A client opens an open-line chat (a lead is created unless given)."""
    portal = _portal(ref)
    lead_id = body.get("lead_id")
    if lead_id is not None:
        _lead(portal, int(lead_id))
    with transaction.atomic(using=SANDBOX_DB):
        chat = openlines.chat_open(
            portal=portal,
            client_name=str(body.get("client_name", "Клиент")),
            lead_id=int(lead_id) if lead_id is not None else None,
            connector=str(body.get("connector", "telegrambot")),
        )
        if body.get("buttons_rendered"):
            chat.buttons_rendered = True
            chat.save(update_fields=["buttons_rendered"])
    return {
        "chat_id": chat.pk,
        "dialog_id": f"chat{chat.pk}",
        "lead_id": chat.lead_id,
        "entity_id": openlines.entity_id(chat),
    }


@control
def chat_messages(
    request: HttpRequest, body: dict[str, Any], ref: str, chat_id: int
) -> Any:
    """POST: the client writes; GET: every message of the chat, bot's included."""
    chat = _chat(_portal(ref), chat_id)
    if request.method == "POST":
        with transaction.atomic(using=SANDBOX_DB):
            message = openlines.client_writes(
                chat=chat,
                text=str(body.get("text", "")),
                system=bool(body.get("system")),
            )
        return _message(message)
    return [_message(m) for m in chat.messages.order_by("pk")]


@control
def chat_detail(
    request: HttpRequest, body: dict[str, Any], ref: str, chat_id: int
) -> Any:
    chat = _chat(_portal(ref), chat_id)
    return {
        "chat_id": chat.pk,
        "dialog_id": f"chat{chat.pk}",
        "lead_id": chat.lead_id,
        "entity_id": openlines.entity_id(chat),
        "buttons_rendered": chat.buttons_rendered,
        "operator_mode": chat.operator_mode,
    }


@control
def chat_operator(
    request: HttpRequest, body: dict[str, Any], ref: str, chat_id: int
) -> Any:
    """An operator (a portal user) writes in the chat."""
    portal = _portal(ref)
    chat = _chat(portal, chat_id)
    user = _user(portal, body.get("user_id"))
    with transaction.atomic(using=SANDBOX_DB):
        message = openlines.operator_writes(
            chat=chat, user=user, text=str(body.get("text", ""))
        )
    return _message(message)


# --- faults, counters, limits, the clock ----------------------------------------


@control
def portal_faults(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    if request.method == "POST":
        unknown = set(body) - faults.COUNTED - {
            "slow_seconds", "block_methods", "method_costs", "event_delay",
        }  # fmt: skip
        if unknown:
            raise ControlError(f"unknown switches: {sorted(unknown)}")
        return faults.update(portal, body)
    return portal.faults


@control
def counters(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    if request.method == "POST" and body.get("reset"):
        faults.reset_counters(portal)
    return faults.counters(portal)


@control
def limits_view(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    if request.method == "POST" and body.get("reset"):
        limits.forget(portal.member_id)
    return {
        "bucket_level": limits.bucket_level(member_id=portal.member_id, ip="127.0.0.1")
    }


@control
def clock_view(request: HttpRequest, body: dict[str, Any]) -> Any:
    if request.method == "POST":
        if body.get("reset"):
            clock.reset()
        if "freeze" in body:
            clock.freeze(None if body["freeze"] is True else float(body["freeze"]))
        if body.get("advance"):
            clock.advance(float(body["advance"]))
    return {"now": clock.now()}


@control
def deliveries(request: HttpRequest, body: dict[str, Any], ref: str) -> Any:
    portal = _portal(ref)
    rows = EventDelivery.objects.filter(portal=portal).order_by("pk")
    if request.GET.get("event"):
        rows = rows.filter(event=request.GET["event"].upper())
    if request.GET.get("after"):
        rows = rows.filter(pk__gt=int(request.GET["after"]))
    return [row.as_dict() for row in rows]


@control
def wait(request: HttpRequest, body: dict[str, Any]) -> Any:
    """Block until queued deliveries are attempted (timeout in seconds)."""
    timeout = min(float(body.get("timeout", 10)), 60.0)
    return {"idle": events.wait_idle(timeout)}


@control
def reset(request: HttpRequest, body: dict[str, Any]) -> Any:
    """Forget every portal (the app registration stays)."""
    for portal in Portal.objects.all():
        limits.forget(portal.member_id)
        faults.reset_counters(portal)
    Portal.objects.all().delete()
    clock.reset()
    return {"origin": sandbox_origin()}

"""Methods about the app, the user, events and placements."""

from typing import Any
from urllib.parse import urlsplit

from sandbox.models import EventBinding, PlacementBinding, User
from sandbox.rest import Call, RestError, method

KNOWN_EVENTS = {
    "ONAPPINSTALL": "basic",
    "ONAPPUPDATE": "basic",
    "ONAPPUNINSTALL": "basic",
    "ONAPPTEST": "basic",
    "ONCRMLEADADD": "crm",
    "ONCRMLEADUPDATE": "crm",
    "ONCRMLEADDELETE": "crm",
    "ONCRMLEADUSERFIELDADD": "crm",
    "ONCRMLEADUSERFIELDUPDATE": "crm",
    "ONCRMLEADUSERFIELDDELETE": "crm",
    "ONCRMTIMELINECOMMENTADD": "crm",
    "ONIMBOTMESSAGEADD": "imbot",
    "ONIMBOTJOINCHAT": "imbot",
    "ONIMBOTDELETE": "imbot",
    "ONOFFLINEEVENT": "basic",
}
KNOWN_PLACEMENTS = {
    "CRM_LEAD_DETAIL_TAB": "crm",
    "CRM_LEAD_LIST_MENU": "crm",
    "CRM_LEAD_DETAIL_ACTIVITY": "crm",
    "CRM_DEAL_DETAIL_TAB": "crm",
    "CRM_CONTACT_DETAIL_TAB": "crm",
    "LEFT_MENU": "basic",
    "REST_APP_URI": "basic",
}


@method("app.info")
def app_info(call: Call) -> dict[str, Any]:
    if call.app is None or call.install is None:
        raise RestError("ACCESS_DENIED", "Application context required", 403)
    portal = call.portal
    return {
        "ID": call.install.pk,
        "CODE": call.app.code,
        "VERSION": int(call.app.version) if call.app.version.isdigit() else 1,
        "STATUS": portal.status_letter,
        "INSTALLED": call.install.installed,
        "PAYMENT_EXPIRED": "Y" if portal.faults.get("payment_required") else "N",
        "DAYS": None,
        "LANGUAGE_ID": portal.language,
        "LICENSE": portal.license,
        "LICENSE_TYPE": portal.plan,
        "LICENSE_FAMILY": portal.license.split("_")[-1],
    }


@method("profile")
def profile(call: Call) -> dict[str, Any]:
    user = call.user
    return {
        "ID": str(user.uid),
        "ADMIN": user.is_admin,
        "NAME": user.name,
        "LAST_NAME": user.last_name,
        "PERSONAL_GENDER": user.gender,
        "TIME_ZONE": call.portal.time_zone,
    }


def user_payload(user: User) -> dict[str, Any]:
    return {
        "ID": str(user.uid),
        "XML_ID": None,
        "ACTIVE": user.active,
        "NAME": user.name,
        "LAST_NAME": user.last_name,
        "SECOND_NAME": "",
        "EMAIL": user.email,
        "LAST_LOGIN": None,
        "DATE_REGISTER": None,
        "IS_ONLINE": "N",
        "TIME_ZONE_OFFSET": "0",
        "TIMESTAMP_X": None,
        "LAST_ACTIVITY_DATE": None,
        "PERSONAL_GENDER": user.gender,
        "PERSONAL_BIRTHDAY": "",
        "WORK_POSITION": user.work_position,
        "UF_EMPLOYMENT_DATE": "",
        "UF_DEPARTMENT": [1],
        "USER_TYPE": "employee",
    }


@method("user.current", "user")
def user_current(call: Call) -> dict[str, Any]:
    return user_payload(call.user)


@method("user.admin")
def user_admin(call: Call) -> bool:
    return call.user.is_admin


@method("user.access")
def user_access(call: Call) -> bool:
    codes = call.param("ACCESS", "access")
    if codes is None:
        raise RestError("ERROR_ARGUMENT", "Argument 'ACCESS' is null or empty", 400)
    if isinstance(codes, dict):
        codes = list(codes.values())
    if isinstance(codes, str):
        codes = [codes]
    if call.user.is_admin:
        return True
    mine = {f"U{call.user.uid}", "AU", "G2", "UA"}
    return any(str(code) in mine for code in codes)


# --- events -----------------------------------------------------------------


def handler_check(handler: str) -> None:
    parts = urlsplit(handler)
    if parts.scheme not in ("http", "https"):
        raise RestError("ERROR_UNSUPPORTED_PROTOCOL", "Unsupported protocol", 400)
    if not parts.hostname or "." not in parts.hostname:
        raise RestError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL", 400)


@method("event.bind")
def event_bind(call: Call) -> bool:
    call.require_app()
    assert call.app is not None
    event = str(call.param("event", "EVENT") or "").upper()
    handler = str(call.param("handler", "HANDLER") or "")
    event_type = str(call.param("event_type", "EVENT_TYPE") or "online").lower()
    if not event:
        raise RestError("ERROR_ARGUMENT", "Argument 'event' is null or empty", 400)
    if event_type not in ("online", "offline"):
        raise RestError("ERROR_ARGUMENT", "Wrong event_type", 400)
    if event_type == "online" and not handler:
        raise RestError("ERROR_ARGUMENT", "Argument 'handler' is null or empty", 400)
    scope = KNOWN_EVENTS.get(event)
    if scope is None or (scope != "basic" and scope not in call.scopes):
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)
    if handler:
        handler_check(handler)
    try:
        auth_type = int(str(call.param("auth_type", "AUTH_TYPE") or 0))
    except ValueError:
        auth_type = 0
    if not call.user.is_admin and (event_type == "offline" or auth_type not in (0,)):
        raise RestError("ACCESS_DENIED", "Access denied", 403)

    exists = EventBinding.objects.filter(
        portal=call.portal,
        app=call.app,
        event=event,
        handler=handler,
        auth_type=auth_type,
    ).exists()
    if exists:
        raise RestError(
            "ERROR_CORE", "Unable to set event handler: Handler already binded", 400
        )
    EventBinding.objects.create(
        portal=call.portal,
        app=call.app,
        event=event,
        handler=handler,
        auth_type=auth_type,
        offline=event_type == "offline",
    )
    return True


@method("event.get")
def event_get(call: Call) -> list[dict[str, Any]]:
    call.require_app()
    bindings = EventBinding.objects.filter(portal=call.portal, app=call.app)
    return [
        {
            "event": b.event,
            "handler": b.handler,
            "auth_type": str(b.auth_type),
            "offline": 1 if b.offline else 0,
        }
        for b in bindings.order_by("pk")
    ]


@method("event.unbind")
def event_unbind(call: Call) -> dict[str, int]:
    call.require_app()
    event = str(call.param("event", "EVENT") or "").upper()
    if not event:
        raise RestError("ERROR_ARGUMENT", "Argument 'event' is null or empty", 400)
    bindings = EventBinding.objects.filter(
        portal=call.portal, app=call.app, event=event
    )
    handler = call.param("handler", "HANDLER")
    if handler:
        bindings = bindings.filter(handler=str(handler))
    auth_type = call.param("auth_type", "AUTH_TYPE")
    if auth_type not in (None, ""):
        bindings = bindings.filter(auth_type=int(str(auth_type)))
    count, _ = bindings.delete()
    return {"count": count}


@method("events")
def events_list(call: Call) -> list[str]:
    return sorted(
        e for e, s in KNOWN_EVENTS.items() if s == "basic" or s in call.scopes
    )


# --- placements ---------------------------------------------------------------


def _argument(name: str) -> RestError:
    # placement.bind reports missing arguments with HTTP 200.
    return RestError(
        "ERROR_ARGUMENT",
        f"Argument '{name}' is null or empty",
        200,
        {"argument": name},
    )


@method("placement.bind", "placement")
def placement_bind(call: Call) -> bool:
    call.require_app()
    call.require_admin()
    assert call.app is not None
    code = str(call.param("PLACEMENT", "placement") or "").upper()
    handler = str(call.param("HANDLER", "handler") or "")
    if not code:
        raise _argument("PLACEMENT")
    if not handler:
        raise _argument("HANDLER")
    scope = KNOWN_PLACEMENTS.get(code)
    if scope is None or (scope != "basic" and scope not in call.scopes):
        raise RestError("ERROR_PLACEMENT_NOT_FOUND", "Placement not found", 400)
    handler_check(handler)
    if PlacementBinding.objects.filter(
        portal=call.portal, app=call.app, placement=code, handler=handler
    ).exists():
        raise RestError(
            "ERROR_PLACEMENT_HANDLER_ALREADY_BINDED",
            "Handler already binded",
            400,
        )
    lang_all = call.param("LANG_ALL", "lang_all")
    options = call.param("OPTIONS", "options")
    PlacementBinding.objects.create(
        portal=call.portal,
        app=call.app,
        placement=code,
        handler=handler,
        title=str(call.param("TITLE", "title") or ""),
        description=str(call.param("DESCRIPTION", "description") or ""),
        group_name=str(call.param("GROUP_NAME", "group_name") or ""),
        lang_all=lang_all if isinstance(lang_all, dict) else {},
        options=options if isinstance(options, dict) else {},
    )
    return True


@method("placement.get", "placement")
def placement_get(call: Call) -> list[dict[str, Any]]:
    call.require_app()
    rows = PlacementBinding.objects.filter(portal=call.portal, app=call.app)
    return [
        {
            "placement": p.placement,
            "userId": p.user_uid,
            "handler": p.handler,
            "options": p.options or [],
            "title": p.title,
            "description": p.description,
            "groupName": p.group_name,
            "langAll": p.lang_all or [],
        }
        for p in rows.order_by("pk")
    ]


@method("placement.unbind", "placement")
def placement_unbind(call: Call) -> dict[str, int]:
    call.require_app()
    call.require_admin()
    code = str(call.param("PLACEMENT", "placement") or "").upper()
    if not code:
        raise _argument("PLACEMENT")
    rows = PlacementBinding.objects.filter(
        portal=call.portal, app=call.app, placement=code
    )
    handler = call.param("HANDLER", "handler")
    if handler:
        rows = rows.filter(handler=str(handler))
    count, _ = rows.delete()
    # Bitrix24 counts a found record and its removal separately.
    return {"count": count * 2}

"""HTTP entry points of the portal's REST API and the auth server."""

import logging
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import (  # noqa: F401  (importing registers the methods)
    batch,
    clock,
    consent,
    crm,
    faults,
    limits,
    openlines,
    system,
)
from sandbox.models import Install, Portal, PortalMove, Token, User
from sandbox.oauth import (
    OAuthError,
    code_exchange,
    code_issue,
    refresh,
    token_payload,
)
from sandbox.portals import portal_prefix, sandbox_host
from sandbox.rest import (
    Call,
    RestError,
    authenticate_token,
    authenticate_webhook,
    envelope,
    execute,
    parse_params,
)

logger = logging.getLogger(__name__)

BAD_GATEWAY = (
    "<html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
    "</body></html>"
)


GRANTS = ("refresh_token", "authorization_code")


def json_response(body: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, safe=False)


def resolve_portal(request: HttpRequest, slug: str) -> Portal | HttpResponse:
    """The portal at this prefix, a 302 if it moved, or a 404 body."""
    portal = Portal.objects.filter(slug=slug).first()
    if portal is not None:
        return portal
    move = PortalMove.objects.filter(old_slug=slug).select_related("portal").first()
    if move is not None:
        old = f"/p/{slug}" if slug else ""
        path = request.get_full_path()
        new = portal_prefix(move.portal) + path[len(old) :]
        return HttpResponseRedirect(new, status=302)
    return json_response(
        {"error": "PORTAL_DELETED", "error_description": "Portal was deleted"}, 404
    )


def _client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "0.0.0.0")  # noqa: S104


def _gate(portal: Portal, request: HttpRequest) -> HttpResponse | None:
    """Fault switches and the leaky bucket, before anything is parsed."""
    slow = float(portal.faults.get("slow_seconds") or 0)
    if slow > 0:
        time.sleep(min(slow, 60.0))
    faults.bump(portal, "requests")
    if faults.take(portal, "html_502"):
        return HttpResponse(BAD_GATEWAY, status=502, content_type="text/html")
    if faults.take(portal, "overload_503"):
        return json_response(
            {"error": "OVERLOAD_LIMIT", "error_description": "REST API is blocked"},
            503,
        )
    rate, burst = portal.limits()
    admitted = limits.bucket_admit(
        member_id=portal.member_id,
        ip=_client_ip(request),
        rate=rate,
        burst=burst,
        now=clock.now(),
    )
    if faults.take(portal, "burst_503") or not admitted:
        faults.bump(portal, "query_limit_503")
        return json_response(
            {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"},
            503,
        )
    return None


def _run(request: HttpRequest, portal: Portal, method_name: str, call: Call) -> Any:
    if faults.take(portal, "rest_access_denied"):
        raise RestError(
            "ACCESS_DENIED", "REST API is available only on commercial plans", 403
        )
    method_name = method_name.removesuffix(".json").removesuffix(".xml")
    result, timing = execute(call, method_name)
    return json_response(envelope(result, timing))


def _params(request: HttpRequest) -> dict[str, Any]:
    return parse_params(
        request.META.get("QUERY_STRING", ""),
        request.content_type or "",
        request.body if request.method == "POST" else b"",
    )


@csrf_exempt
def rest_call(request: HttpRequest, method: str, slug: str = "") -> HttpResponse:
    portal = resolve_portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    blocked = _gate(portal, request)
    if blocked is not None:
        return blocked
    try:
        params = _params(request)
        call = authenticate_token(portal, params, _client_ip(request))
        response: HttpResponse = _run(request, portal, method, call)
    except RestError as error:
        response = json_response(error.body(), error.status)
    return response


@csrf_exempt
def webhook_call(
    request: HttpRequest, uid: int, code: str, method: str, slug: str = ""
) -> HttpResponse:
    portal = resolve_portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    blocked = _gate(portal, request)
    if blocked is not None:
        return blocked
    try:
        params = _params(request)
        call = authenticate_webhook(portal, uid, code, params, _client_ip(request))
        response: HttpResponse = _run(request, portal, method, call)
    except RestError as error:
        response = json_response(error.body(), error.status)
    return response


# --- the auth server --------------------------------------------------------


def _oauth_portal(params: dict[str, str]) -> Portal | None:
    if params.get("refresh_token"):
        token = Token.objects.filter(refresh_token=params["refresh_token"]).first()
        return token.portal if token else None
    return None


@csrf_exempt
def oauth_token(request: HttpRequest) -> HttpResponse:
    params: dict[str, str] = {k: str(v) for k, v in request.GET.items()}
    params.update({k: str(v) for k, v in request.POST.items()})
    portal = _oauth_portal(params)
    if portal is not None and faults.take(portal, "oauth_html_502"):
        return HttpResponse(BAD_GATEWAY, status=502, content_type="text/html")

    grant = params.get("grant_type", "")
    client_id = params.get("client_id", "")
    client_secret = params.get("client_secret", "")
    try:
        if not client_id or not client_secret or grant not in GRANTS:
            raise OAuthError("invalid_request", "Invalid request", 400)
        if grant == "refresh_token":
            token = refresh(
                client_id=client_id,
                client_secret=client_secret,
                refresh_token=params.get("refresh_token", ""),
            )
        else:
            token = code_exchange(
                client_id=client_id,
                client_secret=client_secret,
                code=params.get("code", ""),
            )
    except OAuthError as error:
        return json_response(error.body(), error.status)
    return json_response(token_payload(token))


@csrf_exempt
def oauth_app_info(request: HttpRequest) -> HttpResponse:
    """app.info on the auth server: checks a token without touching the portal."""
    params: dict[str, str] = {k: str(v) for k, v in request.GET.items()}
    params.update({k: str(v) for k, v in request.POST.items()})
    token = (
        Token.objects.select_related("portal", "app")
        .filter(access_token=params.get("auth", ""))
        .first()
    )
    if token is None or not token.alive or token.access_expires_at <= clock.now():
        code = "expired_token" if token is not None else "invalid_token"
        return json_response(
            {"error": code, "error_description": "The access token is not valid"}, 401
        )
    install = Install.objects.filter(portal=token.portal, app=token.app).first()
    portal = token.portal
    return json_response(
        {
            "result": {
                "client_id": token.app.client_id,
                "scope": token.app.scope,
                "expires": int(token.access_expires_at),
                "user_id": token.user_uid,
                "install": {
                    "installed": bool(install and install.installed),
                    "version": int(token.app.version)
                    if token.app.version.isdigit()
                    else 1,
                    "status": portal.status_letter,
                    "scope": token.app.scope,
                    "domain": sandbox_host(),
                    "uri": f"{urlsplit(request.build_absolute_uri('/')).scheme}://"
                    f"{sandbox_host()}{portal_prefix(portal)}",
                    "client_endpoint": portal_prefix(portal) + "/rest/",
                    "member_id": portal.member_id,
                    "member_type": "PORTAL",
                },
            }
        }
    )


def oauth_authorize(request: HttpRequest, slug: str = "") -> HttpResponse:
    """The code grant's page: the signed-in user agrees, the app gets a code."""
    from sandbox.install import app_registration
    from sandbox.portals import app_url
    from sandbox.ui import current_user

    portal = resolve_portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    app = app_registration()
    if request.GET.get("client_id") != app.client_id:
        return json_response(
            {"error": "invalid_client", "error_description": "Unknown client"}, 400
        )
    user: User = current_user(request, portal)
    install = Install.objects.filter(portal=portal, app=app, active=True).first()
    if install is None:
        return json_response(
            {
                "error": "invalid_client",
                "error_description": "Application not installed",
            },
            400,
        )
    grant = code_issue(portal=portal, app=app, user_uid=user.uid)
    target = app_url(app, app.redirect_path)
    asked = request.GET.get("redirect_uri") or ""
    if asked and urlsplit(asked).netloc == urlsplit(target).netloc:
        target = asked  # only ever back to the registered app's origin
    query = urlencode(
        {
            "code": grant.code,
            "state": request.GET.get("state", ""),
            "domain": sandbox_host(),
            "member_id": portal.member_id,
            "scope": app.scope,
            "server_domain": sandbox_host(),
        }
    )
    separator = "&" if "?" in target else "?"
    return HttpResponseRedirect(f"{target}{separator}{query}")

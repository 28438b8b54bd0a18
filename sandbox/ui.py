"""The portal's pages: lead list and card, the app's frames, install and BX24 JS."""

from typing import Any

from django.core.paginator import Paginator
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox import clock, crm
from sandbox.install import (
    Frame,
    app_frame,
    app_registration,
    install_finish,
    install_start,
    placement_frame,
    uninstall,
)
from sandbox.models import (
    Install,
    Lead,
    PlacementBinding,
    Portal,
    TimelineComment,
    Token,
    User,
)
from sandbox.portals import portal_prefix
from sandbox.views import resolve_portal

USER_COOKIE = "sb_user"
STATUSES = [
    ("NEW", _("Не обработан")),
    ("IN_PROCESS", _("В работе")),
    ("PROCESSED", _("Обработан")),
    ("JUNK", _("Некачественный лид")),
    ("CONVERTED", _("Качественный лид")),
]
SOURCES = [
    ("WHATSAPP", "WhatsApp"),
    ("TELEGRAM", "Telegram"),
    ("INSTAGRAM", "Instagram"),
    ("WEBFORM", _("Форма на сайте")),
    ("CALL", _("Звонок")),
    ("OTHER", _("Другое")),
]


def current_user(request: HttpRequest, portal: Portal) -> User:
    """The signed-in portal user: ?as=<id>, then the cookie, then the admin."""
    raw = request.GET.get("as") or request.COOKIES.get(USER_COOKIE) or "1"
    uid = int(raw) if str(raw).isdigit() else 1
    user = User.objects.filter(portal=portal, uid=uid).first()
    if user is None:
        user = User.objects.filter(portal=portal).order_by("uid").first()
    if user is None:
        raise Http404("portal has no users")
    return user


def _portal(request: HttpRequest, slug: str) -> Portal | HttpResponse:
    return resolve_portal(request, slug)


def _context(request: HttpRequest, portal: Portal, **extra: Any) -> dict[str, Any]:
    user = current_user(request, portal)
    app = app_registration()
    install = Install.objects.filter(portal=portal, app=app, active=True).first()
    return {
        "portal": portal,
        "prefix": portal_prefix(portal),
        "me": user,
        "users": portal.users.order_by("uid"),
        "app": app,
        "install": install,
        **extra,
    }


def _render(
    request: HttpRequest, template: str, context: dict[str, Any]
) -> HttpResponse:
    response = render(request, f"sandbox/{template}", context)
    if request.GET.get("as"):
        response.set_cookie(USER_COOKIE, request.GET["as"], samesite="Lax")
    return response


def home(request: HttpRequest, slug: str = "") -> HttpResponse:
    portal = _portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    context = _context(request, portal)
    user = context["me"]
    leads = Lead.objects.filter(portal=portal).order_by("-date_create", "-pk")
    if not user.is_admin and user.crm_access == "none":
        leads = leads.none()
    elif not user.is_admin and user.crm_access == "own":
        leads = leads.filter(assigned_by_id=user.uid)
    page = Paginator(leads.prefetch_related("fm"), 50).get_page(request.GET.get("page"))
    names = {u.uid: u.full_name for u in context["users"]}
    rows = [
        {
            "lead": lead,
            "phone": next((f.value for f in lead.fm.all() if f.type_id == "PHONE"), ""),
            "assigned": names.get(lead.assigned_by_id, ""),
        }
        for lead in page
    ]
    context.update({"page": page, "rows": rows, "statuses": dict(STATUSES)})
    return _render(request, "home.html", context)


def _visible_lead(portal: Portal, user: User, lead_id: int) -> Lead:
    lead = Lead.objects.filter(portal=portal, pk=lead_id).prefetch_related("fm").first()
    if lead is None:
        raise Http404("no such lead")
    if not user.is_admin and (
        user.crm_access == "none"
        or (user.crm_access == "own" and lead.assigned_by_id != user.uid)
    ):
        raise Http404("no access to this lead")
    return lead


def lead_card(request: HttpRequest, lead_id: int, slug: str = "") -> HttpResponse:
    portal = _portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    context = _context(request, portal)
    user = context["me"]
    try:
        lead = _visible_lead(portal, user, lead_id)
    except Http404:
        return _render(request, "denied.html", context)
    # Placements stay hidden until the app has called installFinish.
    tab_frame: Frame | None = None
    binding = PlacementBinding.objects.filter(
        portal=portal, app=context["app"], placement="CRM_LEAD_DETAIL_TAB"
    ).first()
    if binding is not None:
        tab_frame = placement_frame(
            portal=portal,
            app=context["app"],
            user=user,
            placement="CRM_LEAD_DETAIL_TAB",
            entity_id=lead.pk,
        )
    ufs = crm.uf_fields(portal)
    context.update(
        {
            "lead": lead,
            "phones": [f for f in lead.fm.all() if f.type_id == "PHONE"],
            "others": [f for f in lead.fm.all() if f.type_id != "PHONE"],
            "uf_values": [(name, lead.uf.get(name)) for name in ufs],
            "comments": TimelineComment.objects.filter(
                portal=portal, entity_type="lead", entity_id=lead.pk
            ).order_by("-created"),
            "tab_binding": binding,
            "tab_frame": tab_frame,
            "open_tab": request.GET.get("tab", ""),
            "status_label": dict(STATUSES).get(lead.status_id, lead.status_id),
            "source_label": dict(SOURCES).get(lead.source_id, lead.source_id),
        }
    )
    return _render(request, "lead.html", context)


def lead_edit(request: HttpRequest, lead_id: int, slug: str = "") -> HttpResponse:
    portal = _portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    context = _context(request, portal)
    user = context["me"]
    try:
        lead = _visible_lead(portal, user, lead_id)
    except Http404:
        return _render(request, "denied.html", context)
    if request.method == "POST":
        fields: dict[str, Any] = {
            key: request.POST.get(key.lower(), "")
            for key in (
                "TITLE",
                "NAME",
                "LAST_NAME",
                "STATUS_ID",
                "SOURCE_ID",
                "COMMENTS",
            )
        }
        phones: list[dict[str, str]] = []
        for row in lead.fm.all():
            if row.type_id != "PHONE":
                continue
            value = request.POST.get(f"phone_{row.pk}", row.value)
            if value != row.value:
                phones.append({"ID": str(row.pk), "VALUE": value})
        new_phone = request.POST.get("phone_new", "").strip()
        if new_phone:
            phones.append({"VALUE": new_phone, "VALUE_TYPE": "MOBILE"})
        if phones:
            fields["PHONE"] = phones
        with transaction.atomic(using="sandbox"):
            crm.lead_change(lead=lead, fields=fields, user_uid=user.uid)
        return HttpResponseRedirect(
            f"{portal_prefix(portal)}/crm/lead/details/{lead.pk}/"
        )
    context.update(
        {
            "lead": lead,
            "phones": [f for f in lead.fm.all() if f.type_id == "PHONE"],
            "statuses": STATUSES,
            "sources": SOURCES,
        }
    )
    return _render(request, "lead_edit.html", context)


def market(request: HttpRequest, slug: str = "") -> HttpResponse:
    portal = _portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    return _render(request, "market.html", _context(request, portal))


def app_page(request: HttpRequest, slug: str = "") -> HttpResponse:
    portal = _portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    context = _context(request, portal)
    frame = app_frame(portal=portal, app=context["app"], user=context["me"])
    context.update({"frame": frame, "frame_name": "app-frame"})
    return _render(request, "app.html", context)


@require_POST
def switch_user(request: HttpRequest, slug: str = "") -> HttpResponse:
    uid = request.POST.get("user", "1")
    target = request.POST.get("next") or f"/p/{slug}/" if slug else "/"
    if not str(target).startswith("/"):
        target = "/"
    response = HttpResponseRedirect(target)
    response.set_cookie(USER_COOKIE, uid if uid.isdigit() else "1", samesite="Lax")
    return response


@require_POST
def install_click(request: HttpRequest, slug: str = "") -> HttpResponse:
    portal = _portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    context = _context(request, portal)
    try:
        frame = install_start(portal=portal, app=context["app"], admin=context["me"])
    except PermissionError:
        return HttpResponseForbidden(
            "Устанавливать приложения может только администратор"
        )
    context.update(
        {
            "frame": frame,
            "frame_name": "install-frame",
            "install": Install.objects.get(portal=portal, app=context["app"]),
            "installing": True,
        }
    )
    return _render(request, "app.html", context)


@require_POST
def uninstall_click(request: HttpRequest, slug: str = "") -> HttpResponse:
    portal = _portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    user = current_user(request, portal)
    if not user.is_admin:
        return HttpResponseForbidden("Удалять приложения может только администратор")
    uninstall(
        portal=portal, app=app_registration(), clean=request.POST.get("clean") == "1"
    )
    return HttpResponseRedirect(f"{portal_prefix(portal)}/marketplace/")


@csrf_exempt
@require_POST
def install_finish_view(request: HttpRequest, slug: str = "") -> HttpResponse:
    """BX24.installFinish() from the wizard frame, relayed by the portal page."""
    portal = _portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    token = Token.objects.filter(
        portal=portal, access_token=request.POST.get("auth", ""), alive=True
    ).first()
    if token is None or token.access_expires_at <= clock.now():
        return JsonResponse({"error": "NO_AUTH_FOUND"}, status=401)
    install = Install.objects.filter(portal=portal, app=token.app, active=True).first()
    user = User.objects.filter(portal=portal, uid=token.user_uid).first()
    if install is None or user is None or not user.is_admin:
        return JsonResponse({"error": "ACCESS_DENIED"}, status=403)
    install_finish(install)
    return JsonResponse({"installed": True})


def bx24_js(request: HttpRequest) -> HttpResponse:
    response = render(
        request, "sandbox/bx24.js", {}, content_type="application/javascript"
    )
    response["Access-Control-Allow-Origin"] = "*"
    return response

"""Endpoints Bitrix24 calls: they parse, authorise, call a workflow, answer.

All of them receive cross-site POSTs from the portal, so they are exempt
from CSRF and authenticate by what Bitrix24 sends instead (the application
token, or the viewing user's AUTH_ID checked with the portal).
"""

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from compliance.consent import documents as consent_documents
from compliance.consent import panel as consent_panel
from compliance.consent.ledger import LedgerError
from compliance.journal import Actor
from integrator import bot, errors, events, install, placement, setup
from integrator.models import EventDelivery, Portal
from integrator.rest import portal_client

logger = logging.getLogger(__name__)

_HOST = re.compile(r"^[a-z0-9.-]+(:\d{1,5})?$")

# Portal languages shown in Russian; every other one gets English.
RUSSIAN_SPEAKING = {"ru", "ua", "by", "kz"}

View = Callable[[HttpRequest], HttpResponse]


def in_portal_language(view: View) -> View:
    """Render a framed page in the portal's language (LANG), Russian first."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        lang = (request.GET.get("LANG") or request.POST.get("LANG") or "ru").lower()
        language = "ru" if lang in RUSSIAN_SPEAKING else "en"
        with translation.override(language):
            response = view(request)
            response["Content-Language"] = language
        return response

    return wrapper


# --- the landing page -------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """What a browser finds at the app's address: where the app really lives."""
    context = {
        "app_base_url": settings.APP_BASE_URL,
        "sandbox_url": settings.SANDBOX_BASE_URL if settings.SANDBOX_ENABLED else "",
    }
    return render(request, "integrator/home.html", context)


# --- events ---------------------------------------------------------------------


@csrf_exempt
@require_POST
def event_receiver(request: HttpRequest) -> HttpResponse:
    """Every Bitrix24 event, ONAPPINSTALL included; 200 once it is queued."""
    try:
        event = events.parse_event(request.body, request.content_type or "")
        events.receive_event(event)
    except events.EventRejected as exc:
        # The reason names no token and no personal data.
        logger.warning("event refused (%s): %s", exc.status, exc.reason)
        return HttpResponse(exc.reason, status=exc.status, content_type="text/plain")
    return HttpResponse("OK", content_type="text/plain")


@csrf_exempt
@require_POST
def bot_receiver(request: HttpRequest) -> HttpResponse:
    """Open-line bot events (v1): 200 once the message is stored and queued."""
    try:
        event = events.parse_event(request.body, request.content_type or "")
        bot.bot_event_receive(event)
    except events.EventRejected as exc:
        logger.warning("bot event refused (%s): %s", exc.status, exc.reason)
        return HttpResponse(exc.reason, status=exc.status, content_type="text/plain")
    return HttpResponse("OK", content_type="text/plain")


# --- install wizard -------------------------------------------------------------


@csrf_exempt
@require_POST
@in_portal_language
def install_wizard(request: HttpRequest) -> HttpResponse:
    """The wizard: confirm the portal, set it up, then let the page finish."""
    try:
        form = install.WizardForm.from_request(request.POST, request.GET)
        portal = install.portal_from_wizard(form)
    except install.InstallRejected as exc:
        logger.warning("install refused (%s): %s", exc.status, exc.reason)
        page = _error_page(
            request,
            title=_("Установка не удалась"),
            message=_(
                "Битрикс24 не подтвердил установку. Откройте приложение ещё раз "
                "из раздела «Приложения» как администратор портала."
            ),
            status=exc.status,
        )
        return placement.allow_framing(page, portal_origin=_posted_origin(request))

    try:
        report = setup.portal_setup(portal_id=portal.pk)
    except errors.B24Error as exc:
        logger.warning("setup of %s could not start: %s", portal.member_id, exc.code)
        report = setup.SetupReport(
            steps=[
                setup.Step(
                    code="start", label=_("Подключение к порталу"), error=exc.code
                )
            ]
        )
    context = {"portal": portal, "report": report, "finish": report.ok}
    response = render(request, "integrator/install.html", context)
    return placement.allow_framing(response, portal_origin=portal.origin)


def _posted_origin(request: HttpRequest) -> str | None:
    """The origin a rejected wizard page may be framed by, if it looks sane."""
    domain = (request.GET.get("DOMAIN") or "").lower()
    if not _HOST.match(domain):
        return None
    scheme = "http" if request.GET.get("PROTOCOL") == "0" else "https"
    return f"{scheme}://{domain}"


# --- the app page (admins) ------------------------------------------------------


@csrf_exempt
@require_POST
@in_portal_language
def app_page(request: HttpRequest) -> HttpResponse:
    """The app's main page in the portal: status and setup, for admins."""
    try:
        viewer = placement.viewer_from_frame(request.POST, request.GET)
        is_admin = viewer.client().call("user.admin")
    except placement.FrameRejected as exc:
        return _frame_refusal(request, exc)
    except errors.B24Error as exc:
        return _frame_refusal(request, placement.FrameRejected(503, exc.code))

    # Imported here: compliance's framed pages build on this module's helpers.
    from compliance import auditor
    from compliance.phones.views import phone_settings_context

    origin = viewer.portal.origin
    if is_admin is not True:
        # Auditors open the app from the portal's menu too: their page is
        # the access journal.
        reader = auditor.reader_from_viewer(viewer, portal_admin=False)
        if reader.role is not None:
            return auditor.journal_page(request, reader)
        page = _error_page(
            request,
            title=_("Только для администратора"),
            message=_("Настройки PDn Guard доступны администратору портала."),
            status=403,
        )
        return placement.allow_framing(page, portal_origin=origin)

    # Imported here: compliance builds on integrator, not the other way round.
    from compliance.retention.views import retention_section

    portal = viewer.portal
    deliveries = EventDelivery.objects.filter(portal=portal)
    context = {
        "portal": portal,
        "steps": [label for _code, label, _run in setup.STEPS],
        "delivered": deliveries.count(),
        "pending": deliveries.filter(processed_at__isnull=True).count(),
        "failed": deliveries.filter(outcome=EventDelivery.Outcome.FAILED).count(),
        "retention": retention_section(portal=portal, user_id=viewer.user_id),
        **phone_settings_context(portal, viewer.user_id),
        "consent": consent_panel.settings_panel(portal=portal),
        "app_base_url": settings.APP_BASE_URL,
        "page": {
            "token": placement.app_token(portal_id=portal.pk, user_id=viewer.user_id),
            "header": placement.TAB_TOKEN_HEADER,
            "consent_url": "/b24/app/consent/",
        },
    }
    response = render(request, "integrator/app.html", context)
    return placement.allow_framing(response, portal_origin=origin)


CONSENT_SETTINGS = (
    "operator_name",
    "operator_address",
    "inn",
    "ogrn",
    "withdraw_contact",
    "term",
    "clinic",
    "marketing",
)


@csrf_exempt
@require_POST
@in_portal_language
def app_consent(request: HttpRequest) -> JsonResponse:
    """The admin saves consent settings or publishes a text's new version.

    The signed page token (issued to an admin by the app page) is the proof;
    no cookie is involved.
    """
    try:
        grant = placement.app_grant(request.headers.get(placement.TAB_TOKEN_HEADER, ""))
    except placement.FrameRejected as exc:
        return _json_error(exc.status, exc.reason)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _json_error(400, "malformed JSON")
    if not isinstance(body, dict):
        return _json_error(400, "the body is not an object")

    portal = Portal.objects.get(pk=grant.portal_id)
    actor = Actor.user(grant.user_id, "admin")
    try:
        if isinstance(body.get("settings"), dict):
            fields = {
                key: value
                for key, value in body["settings"].items()
                if key in CONSENT_SETTINGS
            }
            consent_documents.settings_update(portal=portal, actor=actor, **fields)
        elif isinstance(body.get("text"), str) and isinstance(body.get("purpose"), str):
            consent_documents.document_publish(
                portal=portal, purpose=body["purpose"], text=body["text"], actor=actor
            )
        else:
            return _json_error(400, "send settings, or a purpose and its text")
    except consent_documents.DocumentError as exc:
        return _json_error(400, str(exc))

    context = {
        "consent": consent_panel.settings_panel(portal=portal),
        "app_base_url": settings.APP_BASE_URL,
    }
    html = render_to_string("consent/_settings.html", context, request=request)
    return JsonResponse({"html": html, "consent": context["consent"]})


# --- the lead tab ----------------------------------------------------------------


@csrf_exempt
@require_POST
@in_portal_language
def lead_tab(request: HttpRequest) -> HttpResponse:
    """CRM_LEAD_DETAIL_TAB: the lead as the viewing user may see it."""
    try:
        viewer = placement.viewer_from_frame(request.POST, request.GET)
        lead_id = placement.lead_id_from(placement.placement_options(request.POST))
    except placement.FrameRejected as exc:
        return _frame_refusal(request, exc)

    origin = viewer.portal.origin
    try:
        lead = viewer.client().call("crm.lead.get", {"id": lead_id})
    except (errors.NotFound, errors.PermissionDenied) as exc:
        missing = isinstance(exc, errors.NotFound)
        page = _error_page(
            request,
            title=_("Лид не найден") if missing else _("Нет доступа к лиду"),
            message=_("Откройте вкладку из карточки лида, к которому есть доступ."),
            status=404 if missing else 403,
        )
        return placement.allow_framing(page, portal_origin=origin)
    except errors.B24Error as exc:
        return _frame_refusal(request, placement.FrameRejected(503, exc.code))

    summary = placement.lead_summary(lead_id, lead if isinstance(lead, dict) else {})
    token = placement.tab_token(
        portal_id=viewer.portal.pk,
        user_id=viewer.user_id,
        lead_id=lead_id,
        departments=viewer.departments,
    )
    context = {
        "summary": summary,
        "consent": _consent_context(viewer.portal, lead_id),
        "tab": {
            "lead_id": lead_id,
            "token": token,
            "header": placement.TAB_TOKEN_HEADER,
            "lead_url": "/b24/tab/lead/",
            "phones_url": "/b24/tab/phones/",
            "phones_reveal_url": "/b24/tab/phones/reveal/",
            "consent_url": "/b24/tab/consent/",
            "withdraw_url": "/b24/tab/consent/withdraw/",
        },
    }
    from compliance.retention.models import LegalHold

    context["hold_reasons"] = LegalHold.Reason.choices
    response = render(request, "integrator/lead_tab.html", context)
    return placement.allow_framing(response, portal_origin=origin)


@require_GET
def tab_lead(request: HttpRequest) -> JsonResponse:
    """The tab's own request: the lead's summary, by the tab token (no cookies)."""
    try:
        grant = placement.tab_grant(request.headers.get(placement.TAB_TOKEN_HEADER, ""))
        portal = Portal.objects.get(pk=grant.portal_id)
        lead = portal_client(portal).call("crm.lead.get", {"id": grant.lead_id})
    except placement.FrameRejected as exc:
        return _json_error(exc.status, exc.reason)
    except errors.NotFound:
        return _json_error(404, "lead not found")
    except errors.B24Error as exc:
        return _json_error(503, exc.code)

    summary = placement.lead_summary(
        grant.lead_id, lead if isinstance(lead, dict) else {}
    )
    return JsonResponse({**summary.as_dict(), "consent": None})


# --- helpers ---------------------------------------------------------------------


def _consent_context(portal: Portal, lead_id: int) -> dict[str, Any]:
    return {
        "panel": consent_panel.lead_panel(portal=portal, lead_id=lead_id),
        "app_base_url": settings.APP_BASE_URL,
    }


def _consent_json(request: HttpRequest, portal: Portal, lead_id: int) -> JsonResponse:
    context = _consent_context(portal, lead_id)
    html = render_to_string("consent/_lead_panel.html", context, request=request)
    return JsonResponse({"html": html, "panel": context["panel"]})


@require_GET
@in_portal_language
def tab_consent(request: HttpRequest) -> JsonResponse:
    """The tab's consent block, by the tab token."""
    try:
        grant = placement.tab_grant(request.headers.get(placement.TAB_TOKEN_HEADER, ""))
    except placement.FrameRejected as exc:
        return _json_error(exc.status, exc.reason)
    portal = Portal.objects.get(pk=grant.portal_id)
    return _consent_json(request, portal, grant.lead_id)


@csrf_exempt
@require_POST
@in_portal_language
def tab_consent_withdraw(request: HttpRequest) -> JsonResponse:
    """A manager records a withdrawal the client made by phone or letter.

    The signed tab token in the header is the proof of the viewer and the
    lead (the frame checked both with the portal); no cookie is involved,
    so there is no cross-site request to forge.
    """
    try:
        grant = placement.tab_grant(request.headers.get(placement.TAB_TOKEN_HEADER, ""))
    except placement.FrameRejected as exc:
        return _json_error(exc.status, exc.reason)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _json_error(400, "malformed JSON")
    note = body.get("note") if isinstance(body, dict) else None
    if not isinstance(note, str):
        return _json_error(400, "note must be text")

    portal = Portal.objects.get(pk=grant.portal_id)
    try:
        consent_panel.manager_withdrawal(
            portal=portal,
            lead_id=grant.lead_id,
            manager_user_id=grant.user_id,
            note=note,
        )
    except LedgerError as exc:
        return _json_error(400, str(exc))
    return _consent_json(request, portal, grant.lead_id)


def _json_error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def _error_page(
    request: HttpRequest, *, title: Any, message: Any, status: int
) -> HttpResponse:
    return render(
        request,
        "integrator/error.html",
        {"title": title, "message": message},
        status=status,
    )


def _frame_refusal(request: HttpRequest, exc: placement.FrameRejected) -> HttpResponse:
    logger.warning("frame refused (%s): %s", exc.status, exc.reason)
    messages = {
        400: _("Запрос от Битрикс24 неполон. Откройте страницу из портала."),
        403: _("Портал или пользователь не подтверждены."),
        503: _("Битрикс24 сейчас не отвечает. Попробуйте через минуту."),
    }
    page = _error_page(
        request,
        title=_("Нет доступа"),
        message=messages.get(exc.status, messages[403]),
        status=exc.status,
    )
    # A refused request names no portal we trust, so nobody may frame it.
    return placement.allow_framing(page, portal_origin=None)

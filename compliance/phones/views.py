"""The lead tab's phone block and the admin's phone settings.

Both live inside the portal's iframe, where cookies do not come back, so
each request carries a short-lived signed token minted when the portal's
own POST was verified: the tab's token (``integrator.placement``) for the
phone block, an admin token for the settings. Rights are checked again on
every request, as roles may have changed since the token was minted.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from compliance import vault
from compliance.auditor import audit_token
from compliance.journal import Actor
from compliance.lead_phones import SealedUnreadable, stored_originals
from compliance.models import Role
from compliance.phones import policy
from compliance.phones.models import DepartmentRole, PhonePolicy
from compliance.phones.ratelimit import reveal_alerts
from compliance.phones.reveal import (
    REASON_CHOICES,
    VISIBLE_SECONDS,
    RevealRefused,
    lead_phone_reveal,
)
from compliance.roles import RoleConflict, role_assign, role_revoke
from integrator import errors, placement
from integrator.models import Portal
from integrator.rest import INTERACTIVE, portal_client
from integrator.views import in_portal_language

logger = logging.getLogger(__name__)

ADMIN_TOKEN_SALT = "compliance.phones.admin"  # noqa: S105 - a namespace
ADMIN_TOKEN_MAX_AGE = 30 * 60
ASSIGNABLE = (Role.Name.REVEALER, Role.Name.AUDITOR)


# --- the lead tab -----------------------------------------------------------------


def _json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _tab(request: HttpRequest) -> tuple[placement.TabGrant, Portal]:
    grant = placement.tab_grant(request.headers.get(placement.TAB_TOKEN_HEADER, ""))
    return grant, Portal.objects.get(pk=grant.portal_id)


@require_GET
def tab_phones(request: HttpRequest) -> JsonResponse:
    """The lead's protected numbers as masks, and whether this user may reveal."""
    try:
        grant, portal = _tab(request)
        lead = portal_client(portal, pacing=INTERACTIVE).call(
            "crm.lead.get", {"id": grant.lead_id}
        )
        stored = stored_originals(portal, lead if isinstance(lead, dict) else {})
    except placement.FrameRejected as exc:
        return _json_error(exc.status, "token", exc.reason)
    except errors.NotFound:
        return _json_error(404, "not_found", _("Лид не найден."))
    except SealedUnreadable:
        return _json_error(500, "sealed", _("Сохранённый номер не открывается."))
    except errors.B24Error:
        return _json_error(503, "portal", _("Битрикс24 сейчас не отвечает."))

    allowed = policy.may_reveal(
        portal=portal, b24_user_id=grant.user_id, departments=grant.departments
    )
    return JsonResponse(
        {
            "phones": [
                {"index": n, "masked": vault.mask(number)}
                for n, (number, _sealed) in enumerate(stored)
            ],
            "can_reveal": allowed,
            "reasons": [
                {"code": code, "label": str(label)} for code, label in REASON_CHOICES
            ],
            "visible_seconds": VISIBLE_SECONDS,
        }
    )


@csrf_exempt
@require_POST
def tab_phone_reveal(request: HttpRequest) -> JsonResponse:
    """Reveal one number: ``{"index", "reason", "note"}`` in, the number out."""
    try:
        grant, portal = _tab(request)
    except placement.FrameRejected as exc:
        return _json_error(exc.status, "token", exc.reason)
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
        index = int(body.get("index", 0))
    except (ValueError, TypeError):
        return _json_error(400, "invalid", _("Запрос не понят."))

    try:
        shown = lead_phone_reveal(
            portal=portal,
            lead_id=grant.lead_id,
            b24_user_id=grant.user_id,
            departments=grant.departments,
            reason=str(body.get("reason") or ""),
            note=str(body.get("note") or ""),
            index=index,
        )
    except RevealRefused as exc:
        return _json_error(exc.status, exc.code, str(exc.message))
    except SealedUnreadable:
        logger.warning("reveal on portal %s: a sealed original", portal.member_id)
        return _json_error(500, "sealed", _("Сохранённый номер не открывается."))
    except errors.B24Error as exc:
        logger.warning("reveal on portal %s: %s", portal.member_id, exc.code)
        return _json_error(503, "portal", _("Битрикс24 сейчас не отвечает."))

    response = JsonResponse(
        {
            "phone": shown.display,
            "e164": shown.phone,
            "visible_seconds": shown.visible_seconds,
        }
    )
    response["Cache-Control"] = "no-store"
    return response


# --- the admin's settings ----------------------------------------------------------


@dataclass(frozen=True)
class AdminGrant:
    portal: Portal
    user_id: int

    @property
    def actor(self) -> Actor:
        return Actor.user(self.user_id, "admin")


def admin_token(*, portal_id: int, user_id: int) -> str:
    """Minted by the app page once the portal said the user is its admin."""
    return signing.dumps({"p": portal_id, "u": user_id}, salt=ADMIN_TOKEN_SALT)


def admin_grant(token: str) -> AdminGrant:
    try:
        payload = signing.loads(
            token, salt=ADMIN_TOKEN_SALT, max_age=ADMIN_TOKEN_MAX_AGE
        )
        portal_id, user_id = int(payload["p"]), int(payload["u"])
    except signing.SignatureExpired as exc:
        raise placement.FrameRejected(401, "the admin token expired") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise placement.FrameRejected(401, "bad admin token") from exc
    portal = Portal.objects.filter(
        pk=portal_id, status__in=placement.OPEN_STATUSES
    ).first()
    if portal is None:
        raise placement.FrameRejected(403, "the portal is not active")
    return AdminGrant(portal=portal, user_id=user_id)


def phone_settings_context(portal: Portal, user_id: int) -> dict[str, Any]:
    """What the settings block shows; also used by the app page."""
    people = Role.objects.filter(portal=portal, role__in=ASSIGNABLE)
    departments = DepartmentRole.objects.filter(portal=portal, role__in=ASSIGNABLE)
    return {
        "phones_token": admin_token(portal_id=portal.pk, user_id=user_id),
        "audit_token": audit_token(
            portal_id=portal.pk, user_id=user_id, portal_admin=True
        ),
        "phone_mode": policy.phone_mode(portal),
        "phone_modes": PhonePolicy.Mode.choices,
        "assignable": [(r.value, r.label) for r in ASSIGNABLE],
        "user_roles": people.order_by("role", "b24_user_id"),
        "department_roles": departments.order_by("role", "department_id"),
        "alerts": reveal_alerts(portal),
    }


@csrf_exempt
@require_POST
@in_portal_language
def phone_settings(request: HttpRequest) -> HttpResponse:
    """Phone mode and who may reveal or audit; each change is journaled."""
    try:
        grant = admin_grant(request.POST.get("token", ""))
    except placement.FrameRejected as exc:
        page = render(
            request,
            "integrator/error.html",
            {
                "title": _("Нет доступа"),
                "message": _("Откройте настройки заново из портала."),
            },
            status=exc.status,
        )
        return placement.allow_framing(page, portal_origin=None)

    message, failed = _apply(grant, request.POST)
    context = phone_settings_context(grant.portal, grant.user_id)
    context.update({"message": message, "failed": failed, "portal": grant.portal})
    page = render(
        request, "phones/settings_page.html", context, status=400 if failed else 200
    )
    return placement.allow_framing(page, portal_origin=grant.portal.origin)


def _apply(grant: AdminGrant, post: Any) -> tuple[str, bool]:
    """Carry out one change from the settings form: (message, failed)."""
    op = post.get("op", "")
    portal, actor = grant.portal, grant.actor
    if op == "":
        return "", False
    if op == "mode":
        try:
            policy.phone_mode_set(portal=portal, mode=post.get("mode", ""), actor=actor)
        except ValueError:
            return _("Выберите режим телефона из списка."), True
        return _("Режим телефона сохранён."), False

    role = post.get("role", "")
    kind = post.get("kind", "user")
    raw_id = (post.get("target") or "").strip()
    if role not in {r.value for r in ASSIGNABLE} or kind not in {"user", "department"}:
        return _("Выберите роль и кому её дать."), True
    if not raw_id.isdigit() or not 0 < int(raw_id) < 10**9:
        return _("Укажите числовой ID пользователя или отдела Битрикс24."), True
    target = int(raw_id)

    try:
        if op == "grant" and kind == "user":
            role_assign(portal=portal, b24_user_id=target, role=role, actor=actor)
        elif op == "grant":
            policy.department_role_assign(
                portal=portal, department_id=target, role=role, actor=actor
            )
        elif op == "revoke" and kind == "user":
            role_revoke(portal=portal, b24_user_id=target, role=role, actor=actor)
        elif op == "revoke":
            policy.department_role_revoke(
                portal=portal, department_id=target, role=role, actor=actor
            )
        else:
            return _("Неизвестное действие."), True
    except RoleConflict:
        return _(
            "Одному человеку или отделу нельзя одновременно раскрывать "
            "телефоны и проверять журнал."
        ), True
    return _("Роли сохранены."), False

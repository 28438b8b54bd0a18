"""The auditor's page inside the portal: the access journal, filtered and verified.

It opens from the app's page in the portal for users who read the journal
(the auditor or admin role, in person or through a department, or the
portal's own admin). The portal's POST is verified once; the page's own
requests (filters, chain check, export) carry a signed token, as cookies do
not come back inside the portal's iframe. Exports are journaled by
``compliance.export``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core import signing
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from compliance import journal
from compliance.api import filters_from
from compliance.export import journal_export
from compliance.journal import ACTION_LABELS, Actor
from compliance.phones.policy import held_roles
from compliance.roles import JOURNAL_READERS
from integrator import errors, placement
from integrator.models import Portal
from integrator.views import in_portal_language

logger = logging.getLogger(__name__)

AUDIT_TOKEN_SALT = "compliance.auditor"  # noqa: S105 - a namespace
AUDIT_TOKEN_MAX_AGE = 60 * 60
PAGE_SIZE = 200


@dataclass(frozen=True)
class Reader:
    """Someone the page was opened for, with the role they read the journal as."""

    portal: Portal
    user_id: int
    departments: tuple[int, ...]
    portal_admin: bool

    @property
    def role(self) -> str | None:
        held = held_roles(
            portal=self.portal, b24_user_id=self.user_id, departments=self.departments
        )
        if "auditor" in held:
            return "auditor"
        if held & JOURNAL_READERS or self.portal_admin:
            return "admin"
        return None

    def token(self) -> str:
        return audit_token(
            portal_id=self.portal.pk,
            user_id=self.user_id,
            departments=self.departments,
            portal_admin=self.portal_admin,
        )


def audit_token(
    *,
    portal_id: int,
    user_id: int,
    departments: Iterable[int] = (),
    portal_admin: bool = False,
) -> str:
    payload = {
        "p": portal_id,
        "u": user_id,
        "d": [int(d) for d in departments],
        "a": bool(portal_admin),
    }
    return signing.dumps(payload, salt=AUDIT_TOKEN_SALT)


def reader_from_token(token: str) -> Reader:
    try:
        payload = signing.loads(
            token, salt=AUDIT_TOKEN_SALT, max_age=AUDIT_TOKEN_MAX_AGE
        )
        portal_id, user_id = int(payload["p"]), int(payload["u"])
        departments = tuple(int(d) for d in payload.get("d", []))
        portal_admin = payload.get("a") is True
    except signing.SignatureExpired as exc:
        raise placement.FrameRejected(401, "the journal token expired") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise placement.FrameRejected(401, "bad journal token") from exc
    portal = Portal.objects.filter(
        pk=portal_id, status__in=placement.OPEN_STATUSES
    ).first()
    if portal is None:
        raise placement.FrameRejected(403, "the portal is not active")
    return Reader(portal, user_id, departments, portal_admin)


def reader_from_viewer(viewer: placement.Viewer, *, portal_admin: bool) -> Reader:
    return Reader(viewer.portal, viewer.user_id, viewer.departments, portal_admin)


class JournalFilterForm(forms.Form):
    date_from = forms.DateField(label=gettext_lazy("С даты"), required=False)
    date_to = forms.DateField(label=gettext_lazy("По дату"), required=False)
    user = forms.IntegerField(
        label=gettext_lazy("Пользователь (ID)"),
        required=False,
        min_value=1,
        max_value=10**9 - 1,
    )
    lead = forms.IntegerField(
        label=gettext_lazy("Лид (ID)"), required=False, min_value=1, max_value=10**9 - 1
    )
    action = forms.ChoiceField(label=gettext_lazy("Действие"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, Any]] = [("", gettext_lazy("Все действия"))]
        choices += sorted(ACTION_LABELS.items(), key=lambda kv: str(kv[1]))
        action = self.fields["action"]
        assert isinstance(action, forms.ChoiceField)
        action.choices = choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("Начало периода позже его конца."))
        return data


@csrf_exempt
@require_POST
@in_portal_language
def auditor_page(request: HttpRequest) -> HttpResponse:
    """The journal page: from the portal's POST, or from the page's own forms."""
    try:
        reader = _reader(request)
    except placement.FrameRejected as exc:
        return _refusal(request, exc.status)
    return journal_page(request, reader)


def journal_page(request: HttpRequest, reader: Reader) -> HttpResponse:
    """Render the journal for a reader; the app page hands auditors over here."""
    role = reader.role
    if role is None:
        return _refusal(request, 403)

    form = JournalFilterForm(request.POST if "token" in request.POST else None)
    chosen = filters_from(form.cleaned_data) if form.is_valid() else None
    op = request.POST.get("op", "")
    context: dict[str, Any] = {
        "form": form,
        "token": reader.token(),
        "portal": reader.portal,
        "role": role,
        "rows": [],
        "total": 0,
        "chain": journal.verify_chain(reader.portal) if op == "verify" else None,
    }
    if chosen is not None or not form.is_bound:
        context.update(_rows(reader.portal, chosen))
    page = render(request, "compliance/auditor.html", context)
    return placement.allow_framing(page, portal_origin=reader.portal.origin)


def _reader(request: HttpRequest) -> Reader:
    token = request.POST.get("token")
    if token:
        return reader_from_token(token)
    viewer = placement.viewer_from_frame(request.POST, request.GET)
    try:
        portal_admin = viewer.client().call("user.admin") is True
    except errors.B24Error as exc:
        raise placement.FrameRejected(503, exc.code) from exc
    return reader_from_viewer(viewer, portal_admin=portal_admin)


def _rows(portal: Portal, chosen: Any) -> dict[str, Any]:
    entries = journal.journal_entries(
        portal=portal,
        date_from=chosen.date_from if chosen else None,
        date_to=chosen.date_to if chosen else None,
        user_id=chosen.user_id if chosen else None,
        lead_id=chosen.lead_id if chosen else None,
        action=chosen.action if chosen else None,
    )
    total = entries.count()
    page = list(entries.order_by("-seq")[:PAGE_SIZE])
    statuses = journal.entry_statuses(portal, page)
    rows = []
    for entry in page:
        status = statuses[entry.seq]
        details = {
            key: ", ".join(map(str, value)) if isinstance(value, list) else value
            for key, value in journal.details_of(entry).items()
        }
        rows.append(
            {
                "entry": entry,
                "label": ACTION_LABELS.get(entry.action, entry.action),
                "details": sorted(details.items()),
                "ok": status.hash_valid and status.linked,
                "status": status,
            }
        )
    return {"rows": rows, "total": total}


@csrf_exempt
@require_POST
def auditor_export(request: HttpRequest) -> HttpResponseBase:
    """The export bundle for the page's filters, journaled as ``journal.exported``."""
    try:
        reader = reader_from_token(request.POST.get("token", ""))
    except placement.FrameRejected as exc:
        return _refusal(request, exc.status)
    role = reader.role
    if role is None:
        return _refusal(request, 403)
    form = JournalFilterForm(request.POST)
    if not form.is_valid():
        return _refusal(request, 400)

    # Spooled to disk past 8 MB: a large journal never sits in memory.
    out = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115
    summary = journal_export(
        portal=reader.portal,
        actor=Actor.user(reader.user_id, role),
        out=out,
        filters=filters_from(form.cleaned_data),
    )
    out.seek(0)
    name = f"journal-{reader.portal.member_id}-{summary.export_seq}.zip"
    return FileResponse(
        out, as_attachment=True, filename=name, content_type="application/zip"
    )


def _refusal(request: HttpRequest, status: int) -> HttpResponse:
    messages = {
        401: _("Страница устарела. Откройте журнал заново из портала."),
        403: _(
            "Журнал доступа открыт аудитору и администратору. "
            "Роль аудитора выдаёт администратор портала."
        ),
        503: _("Битрикс24 сейчас не отвечает. Попробуйте через минуту."),
        400: _("Фильтр журнала заполнен неверно."),
    }
    page = render(
        request,
        "integrator/error.html",
        {"title": _("Нет доступа"), "message": messages.get(status, messages[403])},
        status=status,
    )
    return placement.allow_framing(page, portal_origin=None)

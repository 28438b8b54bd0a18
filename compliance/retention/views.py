"""Retention on the settings page and in the lead tab.

The settings page (the app page, opened by an admin through Bitrix24's form
POST) gets a signed admin token; its follow-up requests carry it in a header,
or in the query string for file downloads, since third-party cookies are
unreliable in the portal's iframe. The lead tab's hold buttons use the tab's
own signed token.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django import forms
from django.core import signing
from django.forms.models import model_to_dict
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from compliance.retention import archive, run
from compliance.retention.models import (
    ArchivedLead,
    DestructionAct,
    LegalHold,
    RetentionPolicy,
    RetentionRun,
)
from compliance.retention.policy import hold_of, hold_release, hold_set, policy_for
from integrator import errors
from integrator.models import Portal
from integrator.placement import TAB_TOKEN_HEADER, FrameRejected, tab_grant

logger = logging.getLogger(__name__)

ADMIN_TOKEN_SALT = "pdn-guard.retention-admin"  # noqa: S105 (a salt, not a secret)
ADMIN_TOKEN_MAX_AGE = 30 * 60
ADMIN_TOKEN_HEADER = "X-PDN-Admin-Token"  # noqa: S105 (a header name)


@dataclass(frozen=True)
class AdminGrant:
    portal: Portal
    user_id: int


def admin_token(*, portal_id: int, user_id: int) -> str:
    """A signed token for the settings page's own requests (30 minutes)."""
    return signing.dumps({"p": portal_id, "u": user_id}, salt=ADMIN_TOKEN_SALT)


def admin_grant(token: str) -> AdminGrant:
    try:
        payload = signing.loads(
            token, salt=ADMIN_TOKEN_SALT, max_age=ADMIN_TOKEN_MAX_AGE
        )
        portal = Portal.objects.get(pk=int(payload["p"]))
        user_id = int(payload["u"])
    except signing.SignatureExpired as exc:
        raise FrameRejected(401, "the settings token expired") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise FrameRejected(401, "bad settings token") from exc
    except Portal.DoesNotExist as exc:
        raise FrameRejected(403, "unknown portal") from exc
    return AdminGrant(portal=portal, user_id=user_id)


def _admin(request: HttpRequest) -> AdminGrant:
    token = request.headers.get(ADMIN_TOKEN_HEADER) or request.GET.get("t", "")
    return admin_grant(token)


def _error(status: int, reason: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": reason, **extra}, status=status)


# --- the settings page's section ---------------------------------------------------


class PolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = RetentionPolicy
        fields = [
            "enabled",
            "unconverted_months",
            "withdrawn_days",
            "notice_days",
            "grace_days",
            "medical_field",
            "medical_sources",
            "medical_statuses",
            "act_names",
            "operator_name",
            "operator_address",
            "processor_name",
            "processor_address",
            "system_name",
        ]


def retention_section(*, portal: Portal, user_id: int) -> dict[str, Any]:
    """What the settings page shows about retention, and the token for its calls."""
    current = (
        RetentionRun.objects.filter(
            portal=portal,
            status__in=[RetentionRun.Status.PLANNING, RetentionRun.Status.RUNNING],
        )
        .order_by("-run_date")
        .first()
    )
    archives = ArchivedLead.objects.filter(
        portal=portal,
        key__isnull=False,
        restored_at__isnull=True,
    ).order_by("purge_after")[:200]
    return {
        "token": admin_token(portal_id=portal.pk, user_id=user_id),
        "header": ADMIN_TOKEN_HEADER,
        "policy": PolicyForm(instance=policy_for(portal)),
        "current": current,
        "progress": run.run_progress(current) if current else None,
        "runs": run.runs_recent(portal),
        "notices": run.notices_open(portal),
        "archives": list(archives),
    }


@csrf_exempt
@require_POST
def policy_update(request: HttpRequest) -> JsonResponse:
    """Save the policy form; field errors come back by field name."""
    try:
        grant = _admin(request)
    except FrameRejected as exc:
        return _error(exc.status, exc.reason)
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "the body is not JSON")
    if not isinstance(data, dict):
        return _error(400, "the body must be a JSON object")
    policy = policy_for(grant.portal)
    form = PolicyForm(_form_data(policy, data), instance=policy)
    if not form.is_valid():
        return _error(400, "invalid policy", fields=form.errors.get_json_data())
    policy = form.save()
    logger.info(
        "retention policy saved member_id=%s user=%s enabled=%s",
        grant.portal.member_id,
        grant.user_id,
        policy.enabled,
    )
    return JsonResponse({"saved": True, "enabled": policy.enabled})


def _form_data(policy: RetentionPolicy, changes: dict[str, Any]) -> dict[str, Any]:
    """The stored values with the posted ones over them; lists as JSON text."""
    data = {**model_to_dict(policy, fields=PolicyForm.Meta.fields), **changes}
    for name in ("medical_sources", "medical_statuses"):
        if not isinstance(data.get(name), str):
            data[name] = json.dumps(data.get(name) or [])
    return {k: v for k, v in data.items() if v is not False}


@require_GET
def preview(request: HttpRequest) -> JsonResponse:
    """The dry run: what today's run would do, lead by lead, and why."""
    try:
        grant = _admin(request)
        shown = run.run_preview(portal=grant.portal)
    except FrameRejected as exc:
        return _error(exc.status, exc.reason)
    except errors.B24Error as exc:
        return _error(503, exc.code or "bitrix24 error")

    def rows(verdicts: list[Any]) -> list[dict[str, Any]]:
        return [
            {
                "lead_id": v.lead_id,
                "data_class": v.data_class,
                "due": v.due_at.date().isoformat() if v.due_at else None,
                "reason": v.reason,
            }
            for v in verdicts
        ]

    return JsonResponse(
        {
            "destroy": rows(shown.destroy),
            "notice": rows(shown.notice),
            "medical": rows(shown.flag),
            "held": rows(shown.hold),
            "purge": shown.purge,
            "summary": shown.summary(),
        }
    )


@require_GET
def act_download(request: HttpRequest, run_id: int, kind: str) -> HttpResponse:
    """The run's act (DOCX) or journal extract (CSV)."""
    try:
        grant = _admin(request)
    except FrameRejected as exc:
        return _error(exc.status, exc.reason)
    if kind not in ("docx", "csv"):
        return _error(404, "acts come as docx or csv")
    act = DestructionAct.objects.filter(run_id=run_id, portal=grant.portal).first()
    if act is None:
        return _error(404, "no act for this run")
    if kind == "docx":
        response = HttpResponse(
            bytes(act.docx),
            content_type="application/vnd.openxmlformats-officedocument"
            ".wordprocessingml.document",
        )
    else:
        response = HttpResponse(act.csv, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="act-{act.number}.{kind}"'
    return response


@csrf_exempt
@require_POST
def restore(request: HttpRequest, archived_id: int) -> JsonResponse:
    """Bring an archived lead back during the grace period."""
    try:
        grant = _admin(request)
    except FrameRejected as exc:
        return _error(exc.status, exc.reason)
    if not ArchivedLead.objects.filter(pk=archived_id, portal=grant.portal).exists():
        return _error(404, "no such archive")
    try:
        new_id = archive.archive_restore(archived_id=archived_id, user_id=grant.user_id)
    except archive.ArchiveError:
        return _error(410, "the archive has been destroyed")
    except errors.B24Error as exc:
        return _error(503, exc.code or "bitrix24 error")
    return JsonResponse({"lead_id": new_id})


# --- legal hold from the lead tab --------------------------------------------------


class HoldForm(forms.Form):
    reason = forms.ChoiceField(choices=LegalHold.Reason.choices)
    review_date = forms.DateField()

    def clean_review_date(self) -> date:
        value: date = self.cleaned_data["review_date"]
        if value <= timezone.localdate():
            raise forms.ValidationError("the review date must be in the future")
        if value > timezone.localdate() + timedelta(days=3 * 366):
            raise forms.ValidationError("review a hold at least every three years")
        return value


def _hold_json(hold: LegalHold | None) -> dict[str, Any]:
    if hold is None:
        return {"hold": None}
    return {
        "hold": {
            "reason": hold.reason,
            "review_date": hold.review_date.isoformat(),
            "set_at": hold.set_at.isoformat(),
            "set_by_user_id": hold.set_by_user_id,
        }
    }


@csrf_exempt
def tab_hold(request: HttpRequest) -> JsonResponse:
    """GET the lead's hold; POST sets one; DELETE releases it (tab token)."""
    try:
        grant = tab_grant(request.headers.get(TAB_TOKEN_HEADER, ""))
        portal = Portal.objects.get(pk=grant.portal_id)
    except FrameRejected as exc:
        return _error(exc.status, exc.reason)

    if request.method == "GET":
        return JsonResponse(_hold_json(hold_of(portal, grant.lead_id)))
    if request.method == "DELETE":
        hold_release(portal=portal, lead_id=grant.lead_id, user_id=grant.user_id)
        return JsonResponse({"hold": None})
    if request.method != "POST":
        return _error(405, "GET, POST or DELETE")

    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "the body is not JSON")
    form = HoldForm(data if isinstance(data, dict) else {})
    if not form.is_valid():
        return _error(400, "invalid hold", fields=form.errors.get_json_data())
    hold = hold_set(
        portal=portal,
        lead_id=grant.lead_id,
        reason=form.cleaned_data["reason"],
        user_id=grant.user_id,
        review_date=form.cleaned_data["review_date"],
    )
    return JsonResponse(_hold_json(hold), status=201)

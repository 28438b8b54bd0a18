"""The auditor's journal API: list with verification status, verify, export.

Authenticated by a per-portal bearer token (``Authorization: Bearer pdn_…``)
whose holder currently has the auditor or admin role. Every view serves one
portal: the token's.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance import journal, roles
from compliance.export import ExportFilters, journal_export
from compliance.models import ApiToken, JournalCheckpoint
from integrator.models import Portal

PAGE_MAX = 500


@dataclass(frozen=True)
class ApiPrincipal:
    """Whoever presented a token: a Bitrix24 user of one portal."""

    portal: Portal
    b24_user_id: int
    token_id: int
    is_authenticated: bool = True

    def actor(self) -> journal.Actor:
        held = roles.user_roles(portal=self.portal, b24_user_id=self.b24_user_id)
        role = "auditor" if "auditor" in held else "admin"
        return journal.Actor(kind="api", role=role, user_id=self.b24_user_id)


class PortalTokenAuthentication(BaseAuthentication):
    keywords = (b"bearer", b"token")

    def authenticate(self, request: Request) -> tuple[ApiPrincipal, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("malformed Authorization header")
        token = roles.api_token_holder(parts[1].decode("latin-1"))
        if token is None or not token.portal.is_active:
            raise AuthenticationFailed("unknown or revoked token")
        principal = ApiPrincipal(token.portal, token.b24_user_id, token.pk)
        return principal, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="pdn-guard"'


class ReadsJournal(BasePermission):
    """The token's user holds auditor or admin now, not merely when it was issued."""

    message = "the journal is open to auditors and admins only"

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, ApiPrincipal):
            return False
        held = roles.user_roles(
            portal=principal.portal, b24_user_id=principal.b24_user_id
        )
        return bool(held & roles.JOURNAL_READERS)


class JournalApiView(APIView):
    authentication_classes = [PortalTokenAuthentication]
    permission_classes = [ReadsJournal]

    @property
    def principal(self) -> ApiPrincipal:
        principal = self.request.user
        assert isinstance(principal, ApiPrincipal)
        return principal


class JournalFilterSerializer(serializers.Serializer[dict[str, Any]]):
    date_from = serializers.DateField(required=False, help_text="inclusive")
    date_to = serializers.DateField(required=False, help_text="inclusive")
    user = serializers.IntegerField(required=False, min_value=1)
    lead = serializers.IntegerField(required=False, min_value=1)
    action = serializers.RegexField(
        r"^[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?$", required=False, max_length=64
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise serializers.ValidationError({"date_to": "is before date_from"})
        return attrs


def _day_start(day: date | None) -> datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


def filters_from(data: dict[str, Any]) -> ExportFilters:
    """Inclusive calendar days in the server's time zone become an instant range."""
    end = data.get("date_to")
    return ExportFilters(
        date_from=_day_start(data.get("date_from")),
        date_to=_day_start(end + timedelta(days=1)) if end else None,
        user_id=data.get("user"),
        lead_id=data.get("lead"),
        action=data.get("action"),
    )


class ListInputSerializer(JournalFilterSerializer):
    after = serializers.IntegerField(required=False, min_value=0, default=0)
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=PAGE_MAX, default=100
    )


class ActorSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    role = serializers.CharField()
    user_id = serializers.IntegerField(allow_null=True)


class StatusSerializer(serializers.Serializer[Any]):
    hash_valid = serializers.BooleanField()
    linked = serializers.BooleanField()
    checkpoint_seq = serializers.IntegerField(allow_null=True)


class EntryOutputSerializer(serializers.Serializer[Any]):
    seq = serializers.IntegerField()
    at = serializers.DateTimeField()
    action = serializers.CharField()
    actor = ActorSerializer()
    subject = serializers.CharField()
    details = serializers.DictField()
    prev_hash = serializers.CharField()
    entry_hash = serializers.CharField()
    status = StatusSerializer()


class ListOutputSerializer(serializers.Serializer[Any]):
    results = EntryOutputSerializer(many=True)
    next_after = serializers.IntegerField(allow_null=True)
    last_checkpoint_seq = serializers.IntegerField(allow_null=True)


class JournalEntryListView(JournalApiView):
    """Entries of the token's portal, oldest first, with per-entry checks."""

    @extend_schema(parameters=[ListInputSerializer], responses=ListOutputSerializer)
    def get(self, request: Request) -> Response:
        params = ListInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        portal = self.principal.portal

        chosen = filters_from(data)
        entries = journal.journal_entries(
            portal=portal,
            date_from=chosen.date_from,
            date_to=chosen.date_to,
            user_id=chosen.user_id,
            lead_id=chosen.lead_id,
            action=chosen.action,
        ).filter(seq__gt=data["after"])
        page = list(entries[: data["limit"] + 1])
        more, page = len(page) > data["limit"], page[: data["limit"]]
        statuses = journal.entry_statuses(portal, page)

        last = JournalCheckpoint.objects.filter(portal=portal).order_by("-seq").first()
        body = {
            "results": [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "action": e.action,
                    "actor": {
                        "kind": e.actor_kind,
                        "role": e.actor_role,
                        "user_id": e.actor_user_id,
                    },
                    "subject": e.subject,
                    "details": journal.details_of(e),
                    "prev_hash": e.prev_hash,
                    "entry_hash": e.entry_hash,
                    "status": statuses[e.seq].__dict__,
                }
                for e in page
            ],
            "next_after": page[-1].seq if more else None,
            "last_checkpoint_seq": last.seq if last else None,
        }
        return Response(ListOutputSerializer(body).data)


class VerifyOutputSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    entries = serializers.IntegerField()
    first_broken_seq = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    checkpoints = serializers.IntegerField()


class JournalVerifyView(JournalApiView):
    """Recompute the whole chain of the token's portal now."""

    @extend_schema(responses=VerifyOutputSerializer)
    def get(self, request: Request) -> Response:
        result = journal.verify_chain(self.principal.portal)
        return Response(VerifyOutputSerializer(result.__dict__).data)


class JournalExportView(JournalApiView):
    """Build, journal and download an export bundle (zip) for the given filters."""

    @extend_schema(
        request=JournalFilterSerializer,
        responses={
            (200, "application/zip"): OpenApiResponse(description="the bundle"),
        },
    )
    def post(self, request: Request) -> FileResponse:
        params = JournalFilterSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        principal = self.principal

        # Spooled to disk past 8 MB: a large journal never sits in memory.
        out = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115
        summary = journal_export(
            portal=principal.portal,
            actor=principal.actor(),
            out=out,
            filters=filters_from(params.validated_data),
        )
        out.seek(0)
        name = f"journal-{principal.portal.member_id}-{summary.export_seq}.zip"
        return FileResponse(
            out, as_attachment=True, filename=name, content_type="application/zip"
        )

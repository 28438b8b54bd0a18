"""Pages Bitrix24 opens in an iframe: who is looking, and the tab's own token.

Bitrix24 opens the lead tab and the app page by POSTing a form into an
iframe on the portal's origin. The form names the portal (``member_id``,
``DOMAIN``) and carries the viewing user's ``AUTH_ID``; none of it is
believed until ``user.current`` answers for that token at the
``client_endpoint`` stored for the portal. The posted ``DOMAIN`` is only
compared with the stored one, never called. Session cookies do not come
back reliably in a cross-site frame, so the page carries a short-lived
signed token for its own follow-up requests instead.
"""

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from django.core import signing
from django.http import HttpResponse

from integrator import errors, rest
from integrator.models import Portal

logger = logging.getLogger(__name__)

TAB_TOKEN_SALT = "integrator.lead-tab"  # noqa: S105 - a namespace, not a secret
TAB_TOKEN_MAX_AGE = 15 * 60
TAB_TOKEN_HEADER = "X-PDN-Tab-Token"  # noqa: S105 - a header name

# Portals whose pages open: setup finished, or tokens to be renewed (the
# viewing user's own token still works then).
OPEN_STATUSES = {Portal.Status.ACTIVE, Portal.Status.REAUTH_REQUIRED}


class FrameRejected(Exception):
    """The frame request is not believed; ``status`` is the answer."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Viewer:
    """A portal user, confirmed by the portal itself."""

    portal: Portal
    user_id: int
    auth_id: str = field(repr=False)
    language: str = "ru"
    # The user's Bitrix24 departments (UF_DEPARTMENT), for roles by department.
    departments: tuple[int, ...] = ()

    def client(self) -> rest.Client:
        """Calls with the viewer's own rights (never the app's)."""
        return rest.user_client(
            self.portal.client_endpoint, self.auth_id, member_id=self.portal.member_id
        )


def viewer_from_frame(post: Mapping[str, str], query: Mapping[str, str]) -> Viewer:
    """Check a framed POST against the stored portal and the portal's own word."""
    member_id = post.get("member_id", "")
    domain = (query.get("DOMAIN") or post.get("DOMAIN") or "").lower()
    auth_id = post.get("AUTH_ID", "")
    if not member_id or not domain or not auth_id:
        raise FrameRejected(400, "member_id, DOMAIN and AUTH_ID are required")

    portal = Portal.objects.filter(member_id=member_id).first()
    if portal is None or portal.status not in OPEN_STATUSES:
        raise FrameRejected(403, "unknown or inactive portal")
    if domain != portal.domain.lower():
        # Nothing is sent to the posted domain: it is only compared.
        raise FrameRejected(403, "the request names another domain")

    viewer = Viewer(
        portal=portal,
        user_id=0,
        auth_id=auth_id,
        language=(query.get("LANG") or post.get("LANG") or portal.language)[:8],
    )
    try:
        user = viewer.client().call("user.current")
    except (errors.AuthError, errors.PermissionDenied) as exc:
        raise FrameRejected(403, "the portal did not accept the user's token") from exc
    except errors.Transient as exc:
        raise FrameRejected(503, "the portal did not answer") from exc
    user_id = _int(user.get("ID")) if isinstance(user, Mapping) else None
    if user_id is None or not isinstance(user, Mapping):
        raise FrameRejected(403, "the portal named no user")
    return Viewer(
        portal=portal,
        user_id=user_id,
        auth_id=auth_id,
        language=viewer.language,
        departments=_departments(user.get("UF_DEPARTMENT")),
    )


def _departments(value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    found = (_int(item) for item in items)
    return tuple(sorted({number for number in found if number is not None}))


def placement_options(post: Mapping[str, str]) -> dict[str, Any]:
    """PLACEMENT_OPTIONS arrives as a JSON string; an empty one means no options."""
    raw = post.get("PLACEMENT_OPTIONS", "")
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except ValueError as exc:
        raise FrameRejected(400, "PLACEMENT_OPTIONS is not JSON") from exc
    # PHP writes an empty map as [].
    if options == []:
        return {}
    if not isinstance(options, dict):
        raise FrameRejected(400, "PLACEMENT_OPTIONS is not an object")
    return options


def lead_id_from(options: Mapping[str, Any]) -> int:
    lead_id = _int(options.get("ID"))
    if lead_id is None:
        raise FrameRejected(400, "PLACEMENT_OPTIONS names no lead")
    return lead_id


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if number > 0 else None
    return None


# --- the tab's own token ------------------------------------------------------


@dataclass(frozen=True)
class TabGrant:
    portal_id: int
    user_id: int
    lead_id: int
    departments: tuple[int, ...] = ()


def tab_token(
    *,
    portal_id: int,
    user_id: int,
    lead_id: int,
    departments: tuple[int, ...] = (),
) -> str:
    """A signed token for the tab's follow-up requests (15 minutes)."""
    payload = {"p": portal_id, "u": user_id, "l": lead_id, "d": list(departments)}
    return signing.dumps(payload, salt=TAB_TOKEN_SALT)


def tab_grant(token: str) -> TabGrant:
    """Open a tab token; expired, forged or malformed ones are refused."""
    try:
        payload = signing.loads(token, salt=TAB_TOKEN_SALT, max_age=TAB_TOKEN_MAX_AGE)
        grant = TabGrant(
            portal_id=int(payload["p"]),
            user_id=int(payload["u"]),
            lead_id=int(payload["l"]),
            departments=tuple(int(d) for d in payload.get("d", ())),
        )
    except signing.SignatureExpired as exc:
        raise FrameRejected(401, "the tab token expired") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise FrameRejected(401, "bad tab token") from exc
    if not Portal.objects.filter(pk=grant.portal_id, status__in=OPEN_STATUSES).exists():
        raise FrameRejected(403, "the portal is not active")
    return grant


APP_TOKEN_SALT = "integrator.app-page"  # noqa: S105 - a namespace, not a secret
APP_TOKEN_MAX_AGE = 30 * 60


def app_token(*, portal_id: int, user_id: int) -> str:
    """A signed token for the app page's own requests; issued to admins only."""
    return signing.dumps({"p": portal_id, "u": user_id}, salt=APP_TOKEN_SALT)


def app_grant(token: str) -> TabGrant:
    """Open an app-page token (``lead_id`` 0); refused like a tab token."""
    try:
        payload = signing.loads(token, salt=APP_TOKEN_SALT, max_age=APP_TOKEN_MAX_AGE)
        grant = TabGrant(
            portal_id=int(payload["p"]), user_id=int(payload["u"]), lead_id=0
        )
    except signing.SignatureExpired as exc:
        raise FrameRejected(401, "the page token expired") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise FrameRejected(401, "bad page token") from exc
    if not Portal.objects.filter(pk=grant.portal_id, status__in=OPEN_STATUSES).exists():
        raise FrameRejected(403, "the portal is not active")
    return grant


# --- what the tab shows ---------------------------------------------------------


def distinct_phone_count(values: Iterable[str]) -> int:
    """How many different numbers, once normalised to E.164 (region RU)."""
    seen: set[str] = set()
    for value in values:
        try:
            number = phonenumbers.parse(value, "RU")
        except phonenumbers.NumberParseException:
            seen.add(f"raw:{value.strip()}")
            continue
        seen.add(
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        )
    seen.discard("raw:")
    return len(seen)


@dataclass(frozen=True)
class LeadSummary:
    lead_id: int
    title: str
    phone_count: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "lead_id": self.lead_id,
            "title": self.title,
            "phone_count": self.phone_count,
        }


def lead_summary(lead_id: int, lead: Mapping[str, Any]) -> LeadSummary:
    phones = lead.get("PHONE")
    values = [
        str(item.get("VALUE", ""))
        for item in (phones if isinstance(phones, list) else [])
        if isinstance(item, Mapping)
    ]
    return LeadSummary(
        lead_id=lead_id,
        title=str(lead.get("TITLE") or ""),
        phone_count=distinct_phone_count(values),
    )


# --- framing headers ----------------------------------------------------------------


def allow_framing(response: HttpResponse, *, portal_origin: str | None) -> HttpResponse:
    """Let exactly this portal frame the page; nobody else."""
    ancestors = f"'self' {portal_origin}" if portal_origin else "'none'"
    response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    # XFrameOptionsMiddleware adds DENY unless the response opts out.
    response.xframe_options_exempt = True
    return response

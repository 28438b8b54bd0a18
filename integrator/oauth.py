"""OAuth 2.0 with Bitrix24's auth server: refresh rotation and the code grant.

The code grant connects the integrator user: :func:`authorization_url` sends
the admin to the portal's consent page, :func:`exchange_callback` checks the
returned ``state`` and trades the code for that user's tokens (requests-oauthlib
drives both), which then serve every background job of the portal.

Every refresh rotates the pair and kills the old refresh token, so two
workers refreshing one portal at once would lock it out. The rule here:

1. Refresh only when a call came back ``expired_token`` — never on a timer.
2. Take the portal's lock (Redis, across processes and hosts; then the row
   lock in PostgreSQL), re-read the tokens, and skip the refresh if another
   worker already rotated them (``token_version`` moved).
3. ``invalid_grant`` for the stored token means the chain is dead: the portal
   becomes ``reauth_required`` and its background work stops.
   ``PAYMENT_REQUIRED`` suspends it. Anything else leaves the tokens alone.

The token endpoint is derived from the stored ``server_endpoint`` (never a
hard-coded host), queried with GET as Bitrix24 requires. Its URL carries the
client secret and the refresh token, so it never appears in a log line or an
exception message.
"""

import contextlib
import hmac
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from oauthlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]
from requests_oauthlib import OAuth2Session

from integrator import errors
from integrator.models import Portal
from integrator.pacing import redis_client, redis_down_is_transient

logger = logging.getLogger(__name__)


class SecretUrlFilter(logging.Filter):
    """Strip query strings and webhook codes from URLs that urllib3 logs.

    urllib3 logs every request line at DEBUG; the token endpoint's query holds
    the client secret and the refresh token, a webhook's path holds its code.
    """

    _query = re.compile(r"\?\S*")
    _webhook = re.compile(r"(/rest/\d+/)[^/\s]+/")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(arg) for arg in record.args)
        record.msg = self._clean(record.msg)
        return True

    def _clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return self._webhook.sub(r"\1***/", self._query.sub("?***", value))


class QuietTokenFilter(logging.Filter):
    """Drop requests-oauthlib's DEBUG lines: they print secrets and tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


logging.getLogger("urllib3.connectionpool").addFilter(SecretUrlFilter())
logging.getLogger("requests_oauthlib.oauth2_session").addFilter(QuietTokenFilter())

TOKEN_TIMEOUT = (5.0, 30.0)
LOCK_TTL = 60.0
LOCK_WAIT = 65.0

STOPPED = {
    Portal.Status.REAUTH_REQUIRED: errors.ReauthRequired,
    Portal.Status.SUSPENDED_PAYMENT: errors.PaymentRequired,
    Portal.Status.UNINSTALLED: errors.AuthError,
}


@dataclass(frozen=True)
class TokenGrant:
    """What the auth server answered; unknown keys are dropped."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    member_id: str = ""
    client_endpoint: str = ""
    server_endpoint: str = ""
    user_id: int | None = None
    scope: str = ""

    def __repr__(self) -> str:
        return f"TokenGrant(member_id={self.member_id!r}, expires_at={self.expires_at})"

    @classmethod
    def from_response(
        cls, data: Mapping[str, Any], *, now: datetime | None = None
    ) -> "TokenGrant":
        """Read a token response; expiry from ``expires``, else now + ``expires_in``."""
        now = now or timezone.now()
        access = data.get("access_token")
        refresh = data.get("refresh_token")
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise errors.Transient("bad_token_response", "no token pair in the answer")
        if not access or not refresh:
            raise errors.Transient("bad_token_response", "empty token in the answer")
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_at=_expiry(data, now),
            member_id=str(data.get("member_id") or ""),
            client_endpoint=str(data.get("client_endpoint") or ""),
            server_endpoint=str(data.get("server_endpoint") or ""),
            user_id=_int_or_none(data.get("user_id")),
            scope=str(data.get("scope") or ""),
        )


def _expiry(data: Mapping[str, Any], now: datetime) -> datetime:
    expires = _int_or_none(data.get("expires"))
    if expires:
        return datetime.fromtimestamp(
            expires, tz=now.tzinfo or timezone.get_current_timezone()
        )
    expires_in = _int_or_none(data.get("expires_in")) or 3600
    return now + timedelta(seconds=expires_in)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def token_url(server_endpoint: str) -> str:
    """``origin(server_endpoint) + /oauth/token/`` for any region's auth server."""
    parts = urlsplit(server_endpoint)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise errors.PermanentError("bad_server_endpoint", "not an http(s) URL")
    return f"{parts.scheme}://{parts.netloc}/oauth/token/"


def request_token(
    server_endpoint: str,
    params: Mapping[str, str],
    *,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = TOKEN_TIMEOUT,
) -> TokenGrant:
    """GET the token endpoint with the app's credentials and ``params``."""
    query = {
        **params,
        "client_id": settings.B24_CLIENT_ID,
        "client_secret": settings.B24_CLIENT_SECRET,
    }
    http = session or requests.Session()
    url = token_url(server_endpoint)
    method = "oauth.token"
    response = None
    try:
        response = http.get(url, params=query, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        failure = type(exc).__name__
    if response is None:
        # Raised outside the handler: requests' exception text holds the URL
        # with the secret, and must not ride along as __context__.
        raise errors.Transient("network_error", failure, method=method)

    body = _json_or_none(response)
    if body is None:
        kind = (
            errors.Transient if response.status_code >= 500 else errors.PermanentError
        )
        raise kind(
            "unexpected_answer",
            f"non-JSON answer ({response.headers.get('Content-Type', '?')})",
            status=response.status_code,
            method=method,
        )
    if "error" in body:
        raise errors.from_body(body, status=response.status_code, method=method)
    if response.status_code >= 400:
        raise errors.Transient("unexpected_answer", status=response.status_code)
    return TokenGrant.from_response(body)


def _json_or_none(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@contextlib.contextmanager
def portal_lock(member_id: str, *, ttl: float = LOCK_TTL) -> Iterator[None]:
    """Hold the portal's token lock across processes (no-op without Redis)."""
    url: str = settings.REDIS_URL
    if not url:
        yield
        return
    lock = redis_client(url).lock(
        f"b24:token-lock:{member_id}", timeout=ttl, blocking_timeout=LOCK_WAIT
    )
    with redis_down_is_transient():
        acquired = lock.acquire()
    if not acquired:
        raise errors.Transient(
            "token_lock_busy", "another worker holds the portal's lock"
        )
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            lock.release()


def refresh_portal_tokens(portal_id: int, *, seen_version: int) -> Portal:
    """Rotate the portal's tokens once, unless another worker already did.

    ``seen_version`` is the ``token_version`` whose access token came back
    expired. Returns the portal as stored afterwards.
    """
    member_id = Portal.objects.values_list("member_id", flat=True).get(pk=portal_id)
    with portal_lock(member_id):
        failure: errors.B24Error | None = None
        with transaction.atomic():
            # The row lock serialises refreshes even where Redis is absent.
            portal = Portal.objects.select_for_update().get(pk=portal_id)
            if portal.token_version != seen_version:
                logger.info(
                    "b24 tokens of %s already rotated (v%s -> v%s)",
                    member_id,
                    seen_version,
                    portal.token_version,
                )
                return portal
            stopped = STOPPED.get(Portal.Status(portal.status))
            if stopped is not None:
                raise stopped(portal.status, portal.status_reason)

            try:
                grant = request_token(
                    portal.server_endpoint,
                    {
                        "grant_type": "refresh_token",
                        "refresh_token": portal.refresh_token,
                    },
                )
            except errors.ReauthRequired as exc:
                portal.status = Portal.Status.REAUTH_REQUIRED
                portal.status_reason = "invalid_grant: the refresh token was refused"
                portal.save(update_fields=["status", "status_reason"])
                failure = exc
            except errors.PaymentRequired as exc:
                portal.status = Portal.Status.SUSPENDED_PAYMENT
                portal.status_reason = "PAYMENT_REQUIRED on token refresh"
                portal.save(update_fields=["status", "status_reason"])
                failure = exc
            else:
                store_grant(portal, grant)
                logger.info(
                    "b24 tokens of %s rotated to v%s", member_id, portal.token_version
                )
                return portal

        assert failure is not None
        logger.warning(
            "b24 token refresh for %s stopped the portal: %s", member_id, failure.code
        )
        raise failure


def store_grant(portal: Portal, grant: TokenGrant) -> None:
    """Save a new token pair on a portal row the caller holds locked."""
    if grant.member_id and grant.member_id != portal.member_id:
        raise errors.PermanentError(
            "wrong_member_id", "the auth server answered for another portal"
        )
    portal.set_tokens(access=grant.access_token, refresh=grant.refresh_token)
    portal.token_expires_at = grant.expires_at
    fields = [
        "access_token_sealed",
        "refresh_token_sealed",
        "token_version",
        "token_expires_at",
    ]
    if grant.client_endpoint and grant.client_endpoint != portal.client_endpoint:
        portal.client_endpoint = grant.client_endpoint
        fields.append("client_endpoint")
    if grant.server_endpoint and grant.server_endpoint != portal.server_endpoint:
        portal.server_endpoint = grant.server_endpoint
        fields.append("server_endpoint")
    if grant.user_id is not None:
        portal.token_user_id = grant.user_id
        fields.append("token_user_id")
    portal.save(update_fields=fields)


# -- the authorization-code grant (the integrator user) ------------------------


class StateMismatch(errors.PermanentError):
    """The callback's ``state`` is not the one this app sent: a forged callback."""


def portal_base(portal: Portal) -> str:
    """The portal's web address with its path prefix, without ``/rest/``."""
    endpoint = portal.client_endpoint.rstrip("/")
    return endpoint.removesuffix("/rest")


def _session(redirect_uri: str, state: str | None) -> OAuth2Session:
    if not settings.PRODUCTION:
        # The sandbox portal speaks plain http on loopback; production never does.
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    session = OAuth2Session(
        client_id=settings.B24_CLIENT_ID, redirect_uri=redirect_uri, state=state
    )
    session.register_compliance_hook("access_token_response", _bitrix_answer)
    return session


def _bitrix_answer(response: requests.Response) -> requests.Response:
    """Turn the auth server's errors into ours before oauthlib parses the body."""
    body = _json_or_none(response)
    method = "oauth.token"
    if body is None:
        kind = (
            errors.Transient if response.status_code >= 500 else errors.PermanentError
        )
        raise kind("unexpected_answer", status=response.status_code, method=method)
    if "error" in body:
        raise errors.from_body(body, status=response.status_code, method=method)
    return response


def authorization_url(portal: Portal, redirect_uri: str, state: str) -> str:
    """The portal's consent page, to which the admin's browser is sent."""
    url, _ = _session(redirect_uri, state).authorization_url(
        f"{portal_base(portal)}/oauth/authorize/"
    )
    return str(url)


def exchange_callback(
    portal: Portal, callback_url: str, *, state: str, redirect_uri: str
) -> Portal:
    """Check ``state`` in the callback URL, then store the user's tokens."""
    query = dict(parse_qsl(urlsplit(callback_url).query))
    received = query.get("state", "")
    if not state or not hmac.compare_digest(received.encode(), state.encode()):
        raise StateMismatch("state_mismatch", "the callback's state is not ours")
    if query.get("member_id") and query["member_id"] != portal.member_id:
        raise errors.PermanentError("wrong_member_id", "callback from another portal")
    return exchange_code(portal, query.get("code", ""), redirect_uri=redirect_uri)


def exchange_code(portal: Portal, code: str, *, redirect_uri: str = "") -> Portal:
    """Trade an authorization code for tokens and make them the portal's own.

    The new chain replaces the stored one (the integrator user takes over
    background work); a portal waiting for reauthorisation becomes active.
    """
    if not code:
        raise errors.PermanentError("invalid_request", "no authorization code")
    session = _session(redirect_uri, None)
    try:
        token = session.fetch_token(
            token_url(portal.server_endpoint),
            code=code,
            method="GET",
            client_secret=settings.B24_CLIENT_SECRET,
            include_client_id=True,
            timeout=TOKEN_TIMEOUT,
        )
    except errors.B24Error:
        raise
    except requests.RequestException as exc:
        failure: str = type(exc).__name__
    except OAuth2Error as exc:
        failure = exc.error
    else:
        failure = ""
    if failure:
        raise errors.Transient("token_exchange_failed", failure, method="oauth.token")
    grant = TokenGrant.from_response(dict(token))

    with portal_lock(portal.member_id), transaction.atomic():
        fresh = Portal.objects.select_for_update().get(pk=portal.pk)
        store_grant(fresh, grant)
        if fresh.status == Portal.Status.REAUTH_REQUIRED:
            fresh.status = Portal.Status.ACTIVE
            fresh.status_reason = ""
            fresh.save(update_fields=["status", "status_reason"])
    logger.info("b24 portal %s connected user %s", portal.member_id, grant.user_id)
    return fresh

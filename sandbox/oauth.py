"""The auth server: token chains, the code grant and single-use refresh."""

import hmac
import logging
from typing import Any

from django.db import transaction

from sandbox import clock, faults
from sandbox.models import AppRegistration, AuthCode, Install, Portal, Token
from sandbox.portals import client_endpoint, sandbox_host, server_endpoint
from sandbox.router import SANDBOX_DB

logger = logging.getLogger(__name__)

CODE_TTL = 30


class OAuthError(Exception):
    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


def token_issue(
    *, portal: Portal, app: AppRegistration, user_uid: int, chain: str | None = None
) -> Token:
    """Start a new chain (or continue ``chain``) for a user of an installed app."""
    now = clock.now()
    token = Token(
        portal=portal,
        app=app,
        user_uid=user_uid,
        access_expires_at=now + portal.access_ttl,
        refresh_expires_at=now + portal.refresh_ttl,
    )
    if chain:
        token.chain = chain
    token.save()
    return token


def token_payload(token: Token, *, install: Install | None = None) -> dict[str, Any]:
    """The token endpoint's answer (``domain`` is the auth server's host)."""
    portal = token.portal
    return {
        "access_token": token.access_token,
        "expires": int(token.access_expires_at),
        "expires_in": portal.access_ttl,
        "scope": token.app.scope,
        "domain": sandbox_host(),
        "server_endpoint": server_endpoint(),
        "status": portal.status_letter,
        "client_endpoint": client_endpoint(portal),
        "member_id": portal.member_id,
        "user_id": token.user_uid,
        "refresh_token": token.refresh_token,
    }


def _client(client_id: str, client_secret: str) -> AppRegistration:
    app = AppRegistration.objects.filter(client_id=client_id).first()
    if app is None:
        # Bitrix24's auth server answers an unknown client with HTTP 200.
        raise OAuthError("wrong_client", "Wrong client", 200)
    if not hmac.compare_digest(app.client_secret, client_secret):
        raise OAuthError("invalid_client", "Invalid client credentials", 400)
    return app


def _portal_checks(portal: Portal, app: AppRegistration) -> None:
    install = Install.objects.filter(portal=portal, app=app, active=True).first()
    if install is None:
        raise OAuthError("invalid_client", "Application not installed", 400)
    if faults.take(portal, "payment_required"):
        raise OAuthError("PAYMENT_REQUIRED", "Payment required", 402)


def refresh(*, client_id: str, client_secret: str, refresh_token: str) -> Token:
    """Rotate a chain: the used pair dies, a new one is returned."""
    app = _client(client_id, client_secret)
    old = (
        Token.objects.select_related("portal")
        .filter(refresh_token=refresh_token, app=app)
        .first()
    )
    if old is None:
        raise OAuthError("invalid_grant", "Invalid refresh token", 400)
    faults.bump(old.portal, "refresh_calls")
    if not old.alive or old.refresh_expires_at <= clock.now():
        raise OAuthError("invalid_grant", "Refresh token is expired or used", 400)
    _portal_checks(old.portal, app)

    with transaction.atomic(using=SANDBOX_DB):
        # The conditional update is the race guard: of two concurrent refreshes
        # with the same token exactly one kills it and gets the next pair.
        won = Token.objects.filter(pk=old.pk, alive=True).update(
            alive=False, rotated=True
        )
        if not won:
            raise OAuthError("invalid_grant", "Refresh token is expired or used", 400)
        return token_issue(
            portal=old.portal, app=app, user_uid=old.user_uid, chain=old.chain
        )


def code_issue(*, portal: Portal, app: AppRegistration, user_uid: int) -> AuthCode:
    return AuthCode.objects.create(
        portal=portal, app=app, user_uid=user_uid, expires_at=clock.now() + CODE_TTL
    )


def code_exchange(*, client_id: str, client_secret: str, code: str) -> Token:
    app = _client(client_id, client_secret)
    grant = AuthCode.objects.select_related("portal").filter(code=code, app=app).first()
    if grant is None or grant.expires_at <= clock.now():
        raise OAuthError("invalid_grant", "Invalid authorization code", 400)
    if not AuthCode.objects.filter(pk=grant.pk, used=False).update(used=True):
        raise OAuthError("invalid_grant", "Authorization code already used", 400)
    _portal_checks(grant.portal, app)
    return token_issue(portal=grant.portal, app=app, user_uid=grant.user_uid)


def expire_portal_tokens(portal: Portal) -> int:
    """Make every live access token of a portal expired (refresh still works)."""
    return Token.objects.filter(portal=portal, alive=True).update(
        access_expires_at=clock.now() - 1
    )


def revoke_install_tokens(portal: Portal, app: AppRegistration) -> int:
    return Token.objects.filter(portal=portal, app=app, alive=True).update(alive=False)

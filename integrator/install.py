"""Install, update and uninstall: who a portal is and whether to believe it.

A portal introduces itself twice: the install wizard page gets a form POST
with the installing admin's tokens, and ONAPPINSTALL arrives at the event
handler (early, late, or not at all). Neither body proves itself. Before a
new portal or a new application token is stored, the access token that came
with it is shown to ``app.info`` on the auth server named by
``server_endpoint`` (which must be one the app trusts): its answer, not the
posted form, says whose token it is — this app's (``client_id``) and which
portal's (member_id, client endpoint). Unlike a refresh, this check leaves
the token chain alive, so the wizard's frame can still call installFinish.
A portal already known is recognised by its application token instead.
"""

import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from integrator import errors, rest
from integrator.models import EventDelivery, Portal

logger = logging.getLogger(__name__)

AUTH_SERVER_TIMEOUT = (5.0, 20.0)

# Sent with ``portal_id`` when an uninstalled portal's local data is purged,
# so each part of the app deletes what it keeps for that portal.
portal_purged = Signal()


class InstallRejected(Exception):
    """An install or update that cannot be believed; nothing was stored."""

    def __init__(self, reason: str, *, status: int = 403) -> None:
        self.reason = reason
        self.status = status
        super().__init__(reason)


@dataclass(frozen=True)
class Tokens:
    access: str = field(repr=False)
    refresh: str = field(repr=False)
    expires_in: int = 3600


@dataclass(frozen=True)
class Confirmed:
    """What the auth server said about an access token."""

    member_id: str
    client_endpoint: str
    server_endpoint: str
    user_id: int | None
    installed: bool


def trusted_auth_origins() -> list[str]:
    """Origins of the auth servers whose answers the app believes."""
    origins = list(settings.B24_AUTH_SERVERS)
    if settings.SANDBOX_ENABLED:
        origins.append(settings.SANDBOX_BASE_URL)
    return [_origin(url) for url in origins]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def tokens_match(stored: str, given: str) -> bool:
    """Constant-time comparison; an empty stored token never matches."""
    return bool(stored) and hmac.compare_digest(stored.encode(), given.encode())


def confirm_token(
    *, server_endpoint: str, access_token: str, member_id: str
) -> Confirmed:
    """Ask a trusted auth server whose token this is; this app's and portal's only."""
    if _origin(server_endpoint) not in trusted_auth_origins():
        raise InstallRejected("the auth server is not one the app trusts")
    if not access_token:
        raise InstallRejected("no access token to confirm the install with")
    info = _auth_server_app_info(server_endpoint, access_token)

    install = info.get("install")
    install = install if isinstance(install, Mapping) else {}
    if info.get("client_id") != settings.B24_CLIENT_ID:
        raise InstallRejected("the token belongs to another application")
    if not hmac.compare_digest(
        str(install.get("member_id", "")).encode(), member_id.encode()
    ):
        raise InstallRejected("the token belongs to another portal")
    endpoint = _client_endpoint(install)
    if endpoint is None:
        raise InstallRejected("the auth server named no portal address")
    return Confirmed(
        member_id=member_id,
        client_endpoint=endpoint,
        server_endpoint=server_endpoint,
        user_id=_int(info.get("user_id"), 0) or None,
        installed=install.get("installed") is True,
    )


def _auth_server_app_info(server_endpoint: str, access_token: str) -> dict[str, Any]:
    url = urljoin(server_endpoint, "app.info")
    try:
        response = requests.get(
            url,
            params={"auth": access_token},
            timeout=AUTH_SERVER_TIMEOUT,
            allow_redirects=False,
        )
        body = json.loads(response.content)
    except requests.RequestException as exc:
        # The exception text carries the URL, and the URL the token.
        logger.warning("auth server unreachable: %s", type(exc).__name__)
        raise InstallRejected("the auth server did not answer", status=503) from None
    except ValueError:
        raise InstallRejected("the auth server's answer is not JSON") from None
    if not isinstance(body, dict) or "error" in body:
        code = body.get("error") if isinstance(body, dict) else "?"
        logger.warning("auth server refused an install token: %s", code)
        raise InstallRejected("the auth server did not confirm the token")
    result = body.get("result")
    if not isinstance(result, dict):
        raise InstallRejected("the auth server's answer is incomplete")
    return result


def _client_endpoint(install: Mapping[str, Any]) -> str | None:
    """The REST address; a relative one is taken against the portal's ``uri``."""
    endpoint = str(install.get("client_endpoint") or "")
    base = str(install.get("uri") or "")
    domain = str(install.get("domain") or "")
    if not base and domain:
        base = f"https://{domain}/"
    if not endpoint and base:
        endpoint = "/rest/"
    if not endpoint:
        return None
    absolute = urljoin(base, endpoint)
    parts = urlsplit(absolute)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return absolute


def domain_of(client_endpoint: str) -> str:
    """The portal's host[:port] as Bitrix24 names it in payloads."""
    return urlsplit(client_endpoint).netloc.lower()


def portal_store(
    *,
    confirmed: Confirmed,
    application_token: str,
    tokens: Tokens | None,
    plan: str = "",
    language: str = "",
    replace_tokens: bool,
) -> Portal:
    """Create or update the portal from confirmed facts."""
    with transaction.atomic():
        # The wizard and ONAPPINSTALL often arrive together. Insert-or-nothing
        # first, so that both then queue on the same row lock instead of both
        # inserting; a row born here counts as uninstalled until set below.
        Portal.objects.bulk_create(
            [
                Portal(
                    member_id=confirmed.member_id,
                    client_endpoint=confirmed.client_endpoint,
                    server_endpoint=confirmed.server_endpoint,
                    domain=domain_of(confirmed.client_endpoint),
                    status=Portal.Status.UNINSTALLED,
                )
            ],
            ignore_conflicts=True,
        )
        portal = Portal.objects.select_for_update().get(member_id=confirmed.member_id)
        reinstall = portal.status == Portal.Status.UNINSTALLED

        portal.client_endpoint = confirmed.client_endpoint
        portal.server_endpoint = confirmed.server_endpoint
        portal.domain = domain_of(confirmed.client_endpoint)
        portal.application_token = application_token
        portal.plan = (plan or portal.plan)[:32]
        portal.language = (language or portal.language or "ru")[:8]
        if reinstall:
            _reset_for_install(portal)
        if tokens and (replace_tokens or reinstall or not portal.has_tokens):
            # Under the row lock, so a refresh of the stored chain in a worker
            # (which takes the same lock) cannot interleave with this write.
            portal.set_tokens(access=tokens.access, refresh=tokens.refresh)
            portal.token_expires_at = timezone.now() + timedelta(
                seconds=tokens.expires_in
            )
            portal.token_user_id = confirmed.user_id
        portal.save()
    return portal


def _reset_for_install(portal: Portal) -> None:
    portal.status = Portal.Status.INSTALLING
    portal.status_reason = ""
    portal.installed_at = timezone.now()
    portal.uninstalled_at = None
    portal.purge_requested_at = None
    portal.purged_at = None
    portal.setup_completed_at = None
    portal.install_confirmed = None


def portal_from_install_event(
    auth: Mapping[str, Any], *, data: Mapping[str, Any]
) -> Portal:
    """ONAPPINSTALL: recognise a known install, or confirm and store a new one."""
    member_id = str(auth.get("member_id") or "")
    token = str(auth.get("application_token") or "")
    known = Portal.objects.filter(member_id=member_id).first()
    if (
        known is not None
        and known.status != Portal.Status.UNINSTALLED
        and tokens_match(known.application_token, token)
    ):
        # The wizard got here first; its tokens are fresher than the event's.
        return known

    server_endpoint = str(auth.get("server_endpoint") or "")
    access = str(auth.get("access_token") or "")
    confirmed = confirm_token(
        server_endpoint=server_endpoint, access_token=access, member_id=member_id
    )
    refresh = str(auth.get("refresh_token") or "")
    tokens = None
    if access and refresh:
        tokens = Tokens(access, refresh, _int(auth.get("expires_in"), 3600))
    return portal_store(
        confirmed=confirmed,
        application_token=token,
        tokens=tokens,
        plan=str(auth.get("status") or ""),
        language=str(data.get("LANGUAGE_ID") or ""),
        replace_tokens=False,
    )


def _int(value: Any, default: int) -> int:
    text = str(value or "")
    return int(text) if text.isdigit() else default


def portal_from_update_event(auth: Mapping[str, Any]) -> Portal:
    """ONAPPUPDATE with a new application token: confirm it at the auth server."""
    member_id = str(auth.get("member_id") or "")
    known = Portal.objects.filter(member_id=member_id).first()
    if known is None or known.status == Portal.Status.UNINSTALLED:
        raise InstallRejected("unknown portal", status=401)
    # The stored server_endpoint, never the posted one, decides where to ask.
    confirm_token(
        server_endpoint=known.server_endpoint,
        access_token=str(auth.get("access_token") or ""),
        member_id=member_id,
    )
    Portal.objects.filter(pk=known.pk).update(
        application_token=str(auth.get("application_token") or "")
    )
    known.refresh_from_db()
    logger.info("portal %s: application token renewed on update", member_id)
    return known


def schedule_setup(*, portal_id: int, delivery_id: int | None = None) -> None:
    """Run setup in a worker once the current transaction commits."""
    from integrator import tasks

    transaction.on_commit(
        lambda: tasks.run_setup.delay(portal_id=portal_id, delivery_id=delivery_id)
    )


def portal_uninstall(*, portal_id: int, clean: bool, delivery_id: int) -> None:
    """ONAPPUNINSTALL: forget the tokens; with CLEAN, queue the local data's purge."""
    from integrator import tasks

    now = timezone.now()
    with transaction.atomic():
        portal = Portal.objects.select_for_update().get(pk=portal_id)
        portal.forget_tokens()
        portal.status = Portal.Status.UNINSTALLED
        portal.status_reason = ""
        portal.uninstalled_at = now
        portal.setup_completed_at = None
        portal.install_confirmed = None
        if clean:
            portal.purge_requested_at = now
        portal.save()
        EventDelivery.objects.filter(pk=delivery_id).update(
            processed_at=now, outcome=EventDelivery.Outcome.DONE
        )
        if clean:
            transaction.on_commit(lambda: tasks.purge_portal.delay(portal_id=portal_id))
    logger.info("portal %s uninstalled (clean=%s)", portal.member_id, clean)


def portal_purge(*, portal_id: int) -> bool:
    """Delete what the app keeps for an uninstalled portal; False if not due."""
    with transaction.atomic():
        portal = Portal.objects.select_for_update().filter(pk=portal_id).first()
        if portal is None or portal.purge_requested_at is None:
            return False
        if portal.status != Portal.Status.UNINSTALLED:
            # Installed again before the purge ran: the data stays.
            return False
        portal_purged.send(sender=Portal, portal_id=portal_id)
        deleted, _ = EventDelivery.objects.filter(portal_id=portal_id).delete()
        portal.application_token = ""
        portal.purged_at = timezone.now()
        portal.purge_requested_at = None
        portal.save()
    logger.info("portal %s purged: %d deliveries deleted", portal.member_id, deleted)
    return True


@dataclass(frozen=True)
class WizardForm:
    """The install wizard's POST (§ "what the app page receives"), unverified."""

    member_id: str
    domain: str
    auth_id: str = field(repr=False)
    refresh_id: str = field(repr=False)
    application_token: str = field(repr=False)
    server_endpoint: str
    plan: str
    language: str
    expires_in: int = 3600

    @classmethod
    def from_request(
        cls, post: Mapping[str, str], query: Mapping[str, str]
    ) -> "WizardForm":
        form = cls(
            member_id=post.get("member_id", ""),
            domain=(query.get("DOMAIN") or post.get("DOMAIN", "")).lower(),
            auth_id=post.get("AUTH_ID", ""),
            refresh_id=post.get("REFRESH_ID", ""),
            application_token=post.get("APPLICATION_TOKEN", ""),
            server_endpoint=post.get("SERVER_ENDPOINT", ""),
            plan=post.get("status", ""),
            language=query.get("LANG") or post.get("LANG", "ru"),
            expires_in=_int(post.get("AUTH_EXPIRES"), 3600),
        )
        if not (form.member_id and form.auth_id and form.application_token):
            raise InstallRejected("the install form is incomplete", status=400)
        return form


def portal_from_wizard(form: WizardForm) -> Portal:
    """Recognise or confirm the portal the wizard was opened in; admins only."""
    known = Portal.objects.filter(member_id=form.member_id).first()
    if (
        known is not None
        and known.status != Portal.Status.UNINSTALLED
        and known.has_tokens
        and tokens_match(known.application_token, form.application_token)
    ):
        if known.domain != form.domain:
            raise InstallRejected("the form names another domain")
        _require_admin(known.client_endpoint, form.auth_id)
        return known

    confirmed = confirm_token(
        server_endpoint=form.server_endpoint,
        access_token=form.auth_id,
        member_id=form.member_id,
    )
    if domain_of(confirmed.client_endpoint) != form.domain:
        raise InstallRejected("the form names another domain")
    _require_admin(confirmed.client_endpoint, form.auth_id)
    tokens = None
    if form.refresh_id:
        tokens = Tokens(form.auth_id, form.refresh_id, form.expires_in)
    return portal_store(
        confirmed=confirmed,
        application_token=form.application_token,
        tokens=tokens,
        plan=form.plan,
        language=form.language,
        replace_tokens=True,
    )


def _require_admin(client_endpoint: str, access_token: str) -> None:
    try:
        is_admin = rest.user_client(client_endpoint, access_token).call("user.admin")
    except (errors.AuthError, errors.PermissionDenied) as exc:
        raise InstallRejected("the portal did not accept the user's token") from exc
    except errors.B24Error as exc:
        raise InstallRejected("the portal did not answer", status=503) from exc
    if is_admin is not True:
        raise InstallRejected("only a portal administrator installs the app")

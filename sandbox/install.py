"""The app's life on a portal: install, installFinish, frames, uninstall."""

import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction

from sandbox import events
from sandbox.models import (
    AppRegistration,
    EventBinding,
    Install,
    PlacementBinding,
    Portal,
    User,
    new_token,
)
from sandbox.oauth import revoke_install_tokens, token_issue
from sandbox.portals import app_url, sandbox_host, sandbox_origin, server_endpoint
from sandbox.router import SANDBOX_DB


@dataclass
class Frame:
    """A form POST the portal makes into an iframe: where, query and fields."""

    action: str
    query: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.action}?{urlencode(self.query)}" if self.query else self.action

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "url": self.url,
            "query": self.query,
            "form": self.form,
        }


def app_registration() -> AppRegistration:
    """The app registration for settings.B24_CLIENT_ID, created on first use."""
    app, created = AppRegistration.objects.get_or_create(
        client_id=settings.B24_CLIENT_ID,
        defaults={"client_secret": settings.B24_CLIENT_SECRET},
    )
    if not created and app.client_secret != settings.B24_CLIENT_SECRET:
        app.client_secret = settings.B24_CLIENT_SECRET
        app.save(update_fields=["client_secret"])
    return app


def frame_for(
    *,
    portal: Portal,
    install: Install,
    user: User,
    handler: str,
    placement: str,
    options: dict[str, Any] | None,
) -> Frame:
    """§1.2 fields with a fresh token chain of the viewing user."""
    token = token_issue(portal=portal, app=install.app, user_uid=user.uid)
    scheme = urlsplit(sandbox_origin()).scheme
    query = {
        "DOMAIN": sandbox_host(),
        "PROTOCOL": "1" if scheme == "https" else "0",
        "LANG": portal.language,
        "APP_SID": secrets.token_hex(16),
    }
    form = {
        "AUTH_ID": token.access_token,
        "AUTH_EXPIRES": str(portal.access_ttl),
        "REFRESH_ID": token.refresh_token,
        "SERVER_ENDPOINT": server_endpoint(),
        "APPLICATION_TOKEN": install.application_token,
        "APPLICATION_SCOPE": install.app.scope,
        "member_id": portal.member_id,
        "status": portal.status_letter,
        "PLACEMENT": placement,
        "PLACEMENT_OPTIONS": json.dumps(
            options or [], ensure_ascii=False, separators=(",", ":")
        ),
    }
    return Frame(action=handler, query=query, form=form)


def install_start(*, portal: Portal, app: AppRegistration, admin: User) -> Frame:
    """An admin clicks "Install": ONAPPINSTALL is sent, the wizard frame is built."""
    if not admin.is_admin:
        raise PermissionError("only an administrator installs applications")
    with transaction.atomic(using=SANDBOX_DB):
        install, created = Install.objects.get_or_create(portal=portal, app=app)
        if not created and not install.active:
            install.active = True
            install.installed = False
            install.application_token = new_token()
        install.installed_by = admin.uid
        install.save()
        if app.install_event_path:
            events.emit_app_event(
                portal=portal,
                install=install,
                event="ONAPPINSTALL",
                handler=app_url(app, app.install_event_path),
                data=events.install_event_data(app, portal),
                user_uid=admin.uid,
            )
        if not app.install_path:
            # Without a wizard the app is installed at once.
            install.installed = True
            install.save(update_fields=["installed"])
        return frame_for(
            portal=portal,
            install=install,
            user=admin,
            handler=app_url(app, app.install_path or app.app_path),
            placement="DEFAULT",
            options=None,
        )


def install_finish(install: Install) -> None:
    Install.objects.filter(pk=install.pk, active=True).update(installed=True)


def uninstall(*, portal: Portal, app: AppRegistration, clean: bool) -> Install | None:
    """Remove the app: ONAPPUNINSTALL without tokens; drop bindings; keep UFs."""
    install = Install.objects.filter(portal=portal, app=app, active=True).first()
    if install is None:
        return None
    with transaction.atomic(using=SANDBOX_DB):
        handlers = set(
            EventBinding.objects.filter(
                portal=portal, app=app, event="ONAPPUNINSTALL"
            ).values_list("handler", flat=True)
        )
        if not handlers and app.install_event_path:
            handlers = {app_url(app, app.install_event_path)}
        for handler in sorted(handlers):
            events.emit_app_event(
                portal=portal,
                install=install,
                event="ONAPPUNINSTALL",
                handler=handler,
                data={"LANGUAGE_ID": portal.language, "CLEAN": "1" if clean else "0"},
                user_uid=None,
            )
        revoke_install_tokens(portal, app)
        EventBinding.objects.filter(portal=portal, app=app).delete()
        PlacementBinding.objects.filter(portal=portal, app=app).delete()
        install.active = False
        install.installed = False
        install.save(update_fields=["active", "installed"])
    return install


def placement_frame(
    *, portal: Portal, app: AppRegistration, user: User, placement: str, entity_id: int
) -> Frame | None:
    """The frame of a bound placement (None until installFinish or if unbound)."""
    install = Install.objects.filter(
        portal=portal, app=app, active=True, installed=True
    ).first()
    binding = PlacementBinding.objects.filter(
        portal=portal, app=app, placement=placement
    ).first()
    if install is None or binding is None:
        return None
    return frame_for(
        portal=portal,
        install=install,
        user=user,
        handler=binding.handler,
        placement=placement,
        options={"ID": str(entity_id)},
    )


def app_frame(*, portal: Portal, app: AppRegistration, user: User) -> Frame | None:
    """The app's main page; admins get the wizard again until installFinish."""
    install = Install.objects.filter(portal=portal, app=app, active=True).first()
    if install is None:
        return None
    path = app.app_path
    if not install.installed and user.is_admin and app.install_path:
        path = app.install_path
    return frame_for(
        portal=portal,
        install=install,
        user=user,
        handler=app_url(app, path),
        placement="DEFAULT",
        options=None,
    )

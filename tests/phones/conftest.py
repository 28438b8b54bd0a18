import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.test import override_settings

from compliance.lead_phones import PhonesOutcome, lead_phones_protect
from integrator import setup
from integrator.models import Portal
from integrator.rest import portal_client
from sandbox.driver import PortalInfo, SandboxDriver
from tests.integrator.rest_support import (
    FAST_RETRIES,
    NO_APP,
    InstalledPortal,
    installed_portal,
)
from tests.live import LiveServer

ADMIN, MANAGER, OWN_MANAGER, OUTSIDER = 1, 2, 3, 4


class Salon:
    """A sandbox portal with the app installed and its lead fields in place."""

    def __init__(self, world: InstalledPortal) -> None:
        self.world = world
        self.portal = world.portal
        self.sandbox = world.sandbox
        self.ref = world.ref

    def new_lead(self, *phones: str, user_id: int = MANAGER) -> int:
        fields: dict[str, Any] = {"TITLE": "Заявка с сайта"}
        if phones:
            fields["PHONE"] = [{"VALUE": p, "VALUE_TYPE": "MOBILE"} for p in phones]
        return self.sandbox.create_lead(self.ref, fields, user_id=user_id)

    def lead(self, lead_id: int) -> dict[str, Any]:
        lead: dict[str, Any] = portal_client(self.portal, pacing=FAST_RETRIES).call(
            "crm.lead.get", {"id": lead_id}
        )
        return lead

    def phones(self, lead_id: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.lead(lead_id).get("PHONE") or []
        return items

    def protect(self, lead_id: int) -> PhonesOutcome:
        return lead_phones_protect(portal=self.portal, lead_id=lead_id)

    def updates(self) -> list[dict[str, Any]]:
        """Every ONCRMLEADUPDATE the portal sent: one per write to a lead."""
        self.sandbox.wait_idle(timeout=10)
        return self.sandbox.deliveries(self.ref, event="ONCRMLEADUPDATE")


@pytest.fixture
def salon(sandbox_server: LiveServer) -> Iterator[Salon]:
    # Events go to a closed port: these tests drive processing themselves
    # and read the sandbox's delivery log to count writes.
    with override_settings(APP_BASE_URL=NO_APP):
        world = installed_portal(sandbox_server.url)
        report = setup.portal_setup(portal_id=world.portal.pk)
        assert report.ok, report.as_dict()
        world.portal.refresh_from_db()
        yield Salon(world)
        world.sandbox.wait_idle(timeout=5)


# --- the app installed through the wizard, pages served over HTTP ------------------


TAB_DATA = re.compile(r'<script id="pdn-tab" type="application/json">(.*?)</script>')


class Framed:
    """A sandbox portal with the app installed by its admin through the wizard."""

    def __init__(self, driver: SandboxDriver, info: PortalInfo, app_url: str) -> None:
        self.driver = driver
        self.info = info
        self.ref = info.ref
        self.app_url = app_url

    @property
    def portal(self) -> Portal:
        return Portal.objects.get(member_id=self.info.member_id)

    def new_lead(self, *phones: str, user_id: int = MANAGER) -> int:
        fields: dict[str, Any] = {"TITLE": "Запись на стрижку"}
        fields["PHONE"] = [{"VALUE": p, "VALUE_TYPE": "MOBILE"} for p in phones]
        return self.driver.create_lead(self.ref, fields, user_id=user_id)

    def protected_lead(self, *phones: str, user_id: int = MANAGER) -> int:
        lead_id = self.new_lead(*phones, user_id=user_id)
        # A worker left running by earlier tests may protect it first.
        lead_phones_protect(portal=self.portal, lead_id=lead_id)
        assert self.driver.lead(self.ref, lead_id)["UF_CRM_PDN_ORIGINAL_PHONE"]
        return lead_id

    def open_tab(self, lead_id: int, user_id: int) -> requests.Response:
        frame = self.driver.open_lead_tab(self.ref, lead_id=lead_id, user_id=user_id)
        return requests.post(
            frame.action, params=frame.query, data=frame.form, timeout=30
        )

    def tab(self, lead_id: int, user_id: int) -> dict[str, Any]:
        page = self.open_tab(lead_id, user_id)
        assert page.status_code == 200, page.text[:300]
        match = TAB_DATA.search(page.text)
        assert match, "the page carries no tab data"
        data: dict[str, Any] = json.loads(match.group(1))
        return data

    def tab_call(
        self, tab: dict[str, Any], url: str, body: dict[str, Any] | None = None
    ) -> requests.Response:
        headers = {tab["header"]: tab["token"]}
        if body is None:
            return requests.get(self.app_url + url, headers=headers, timeout=30)
        return requests.post(self.app_url + url, json=body, headers=headers, timeout=30)

    def open_app(self, user_id: int) -> requests.Response:
        frame = self.driver.open_app(self.ref, user_id=user_id)
        return requests.post(
            frame.action, params=frame.query, data=frame.form, timeout=30
        )

    def post_app(self, path: str, form: dict[str, str]) -> requests.Response:
        return requests.post(self.app_url + path, data=form, timeout=30)


def hidden(page: str, form_id: str, name: str = "token") -> str:
    """The value of a hidden input inside the form with ``form_id``."""
    start = page.index(f'id="{form_id}"')
    match = re.search(rf'name="{name}" value="([^"]*)"', page[start:])
    assert match, f"no {name} in #{form_id}"
    return html.unescape(match.group(1))


@pytest.fixture
def driver(
    app_server: LiveServer, sandbox_server: LiveServer
) -> Iterator[SandboxDriver]:
    """A clean sandbox whose app registration points at the live app."""
    sandbox = SandboxDriver(sandbox_server.url)
    sandbox.reset()
    sandbox.configure_app(
        base_url=app_server.url,
        install_path="/b24/install/",
        install_event_path="/b24/events/",
        app_path="/b24/app/",
    )
    yield sandbox
    sandbox.wait_idle(timeout=5)


@pytest.fixture
def framed(driver: SandboxDriver, app_server: LiveServer) -> Framed:
    sandbox = driver
    info = sandbox.create_portal("phones")
    result = sandbox.install(info.ref, user_id=ADMIN)
    assert result["wizard"]["status"] == 200, result["wizard"].get("body", "")[:500]
    sandbox.finish_install(info.ref)
    sandbox.wait_for_deliveries(info.ref)
    return Framed(sandbox, sandbox.portal(info.ref), app_server.url)

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from compliance.lead_phones import PhonesOutcome, lead_phones_protect
from integrator import setup
from integrator.rest import portal_client
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
        yield Salon(world)
        world.sandbox.wait_idle(timeout=5)

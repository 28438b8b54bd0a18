from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from celery.signals import after_task_publish

from integrator.models import Portal
from sandbox.driver import PortalInfo, SandboxDriver
from tests.live import LiveServer


@dataclass(frozen=True)
class Published:
    task: str
    kwargs: dict[str, Any]


@pytest.fixture
def published() -> Iterator[list[Published]]:
    """Tasks as they were handed to the real broker (Redis), in order."""
    seen: list[Published] = []

    def record(sender: str | None = None, headers: Any = None, body: Any = None, **_):
        _args, kwargs, _embed = body
        seen.append(Published(task=str(headers.get("task", sender)), kwargs=kwargs))

    after_task_publish.connect(record, weak=False)
    yield seen
    after_task_publish.disconnect(record)  # type: ignore[attr-defined]


@pytest.fixture
def example_portal(db: None) -> Portal:
    """m-001, the portal of the recorded Bitrix24 payloads, installed and set up."""
    portal = Portal(
        member_id="m-001",
        domain="example-portal.bitrix24.ru",
        client_endpoint="https://example-portal.bitrix24.ru/rest/",
        server_endpoint="https://oauth.bitrix.info/rest/",
        application_token="apptok-7f3c",
        status=Portal.Status.ACTIVE,
    )
    portal.set_tokens(access="admin-access", refresh="admin-refresh")
    portal.save()
    return portal


@dataclass(frozen=True)
class Salon:
    """A sandbox portal with the app installed through the wizard."""

    driver: SandboxDriver
    portal: PortalInfo
    app_url: str
    wizard: dict[str, Any]

    @property
    def ref(self) -> str:
        return self.portal.ref

    def stored(self) -> Portal:
        return Portal.objects.get(member_id=self.portal.member_id)


ADMIN, MANAGER, OWN_MANAGER, OUTSIDER = 1, 2, 3, 4


@pytest.fixture
def sandbox(
    app_server: LiveServer, sandbox_server: LiveServer
) -> Iterator[SandboxDriver]:
    """A clean sandbox whose app registration points at the live app.

    Tests using it are marked ``django_db(transaction=True, databases=...)``
    with both databases: the servers run in threads of this process.
    """
    driver = SandboxDriver(sandbox_server.url)
    driver.reset()
    driver.configure_app(
        base_url=app_server.url,
        install_path="/b24/install/",
        install_event_path="/b24/events/",
        app_path="/b24/app/",
    )
    yield driver
    driver.wait_idle(timeout=5)


@pytest.fixture
def salon_portal(sandbox: SandboxDriver) -> PortalInfo:
    return sandbox.create_portal("salon")


@pytest.fixture
def salon(
    sandbox: SandboxDriver, salon_portal: PortalInfo, app_server: LiveServer
) -> Salon:
    """Installed by the admin, wizard finished, ONAPPINSTALL delivered."""
    result = sandbox.install(salon_portal.ref, user_id=ADMIN)
    assert result["wizard"]["status"] == 200, result["wizard"].get("body", "")[:500]
    sandbox.finish_install(salon_portal.ref)
    sandbox.wait_for_deliveries(salon_portal.ref)
    return Salon(
        driver=sandbox,
        portal=sandbox.portal(salon_portal.ref),
        app_url=app_server.url,
        wizard=result,
    )

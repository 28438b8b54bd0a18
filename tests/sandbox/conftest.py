"""Fixtures for the sandbox portal: the live sandbox, a recording app, a driver."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from django.test import override_settings

from sandbox import phpquery
from sandbox.driver import PortalInfo, SandboxDriver
from tests.live import LiveServer

APP_DEFAULTS = {
    "install_path": "/b24/install/",
    "install_event_path": "/b24/events/",
    "app_path": "/b24/app/",
    "redirect_path": "/b24/oauth/callback/",
    "scope": "crm,placement,imbot,imopenlines,im,userconsent,user_brief",
    "version": "1",
}


@dataclass
class Received:
    path: str
    query: str
    content_type: str
    body: str

    @property
    def form(self) -> dict[str, Any]:
        return phpquery.parse(self.body)


@dataclass
class RecordingApp:
    """A stand-in for the app's server: records every POST, answers ``status``."""

    server: LiveServer
    received: list[Received] = field(default_factory=list)
    status: int = 200
    pages: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.server.url

    def posts_to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]


@pytest.fixture(scope="session")
def recording_app() -> Iterator[RecordingApp]:
    holder: dict[str, RecordingApp] = {}

    def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode("utf-8") if length else ""
        app = holder["app"]
        with app.lock:
            app.received.append(
                Received(
                    path=environ["PATH_INFO"],
                    query=environ.get("QUERY_STRING", ""),
                    content_type=environ.get("CONTENT_TYPE", ""),
                    body=body,
                )
            )
        status = f"{app.status} STATUS"
        page = app.pages.get(environ["PATH_INFO"], "<html><body>app page</body></html>")
        start_response(status, [("Content-Type", "text/html; charset=utf-8")])
        return [page.encode("utf-8")]

    server = LiveServer(application)
    holder["app"] = RecordingApp(server=server)
    yield holder["app"]
    server.close()


@pytest.fixture
def app(recording_app: RecordingApp) -> Iterator[RecordingApp]:
    with recording_app.lock:
        recording_app.received.clear()
    recording_app.status = 200
    recording_app.pages.clear()
    yield recording_app


@pytest.fixture
def sandbox(
    sandbox_server: LiveServer, app: RecordingApp, django_db_blocker: Any
) -> Iterator[SandboxDriver]:
    """A driver for a clean sandbox whose app registration points at ``app``.

    The sandbox is emptied through its own control API before and after each
    test, which is much faster than flushing both databases.
    """
    settings = override_settings(
        B24_CLIENT_ID="local.test.app", B24_CLIENT_SECRET="test-secret"
    )
    with django_db_blocker.unblock(), settings:
        driver = SandboxDriver(sandbox_server.url)
        driver.reset()
        driver.configure_app(**APP_DEFAULTS, base_url=app.url)
        yield driver
        driver.wait_idle(timeout=5)
        driver.reset()
        driver.configure_app(**APP_DEFAULTS, base_url="")


@pytest.fixture
def portal(sandbox: SandboxDriver) -> PortalInfo:
    return sandbox.create_portal("salon")


@dataclass
class Installed:
    """An installed app on a portal: the install tokens and a REST helper."""

    portal: PortalInfo
    auth: str
    refresh: str
    application_token: str
    http: requests.Session

    def call(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        body = {**(params or {}), "auth": kw.pop("auth", self.auth)}
        return self.http.post(
            self.portal.client_endpoint + method, json=body, timeout=10, **kw
        )


@pytest.fixture
def installed(sandbox: SandboxDriver, portal: PortalInfo) -> Installed:
    result = sandbox.install(portal.ref)
    form = result["frame"]["form"]
    sandbox.finish_install(portal.ref)
    return Installed(
        portal=sandbox.portal(portal.ref),
        auth=form["AUTH_ID"],
        refresh=form["REFRESH_ID"],
        application_token=form["APPLICATION_TOKEN"],
        http=requests.Session(),
    )


@pytest.fixture
def browser_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from tests.live import LiveServer


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """Let the flush between transactional tests truncate the append-only journal."""
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            name = connection.ops.quote_name(connection.settings_dict["NAME"])
            setting = "pdn_guard.allow_journal_truncate"
            cursor.execute(f"ALTER DATABASE {name} SET {setting} = 'on'")
            cursor.execute(f"SET {setting} = 'on'")


@pytest.fixture(autouse=True)
def _forget_cached_portal_matches() -> Iterator[None]:
    """The event receiver caches token matches per process; tests reuse member_ids."""
    from integrator import events

    events._known.clear()
    yield
    events._known.clear()


@pytest.fixture(scope="session")
def app_server(django_db_setup: None) -> Iterator[LiveServer]:
    """The PDn Guard app served over HTTP (tests using it need ``transactional_db``)."""
    from b24app.wsgi import application

    server = LiveServer(application)
    with override_settings(APP_BASE_URL=server.url):
        yield server
    server.close()


@pytest.fixture(scope="session")
def sandbox_server(django_db_setup: None) -> Iterator[LiveServer]:
    """The sandbox Bitrix24 portal served over HTTP on its own origin."""
    from sandbox.wsgi import application

    server = LiveServer(application)
    with override_settings(SANDBOX_BASE_URL=server.url):
        yield server
    server.close()


def _database_url(alias: str) -> str:
    """The URL of a database pytest-django created, for another process to use."""
    from django.db import connections

    conf = connections[alias].settings_dict
    user = conf.get("USER") or "postgres"
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    host = conf.get("HOST") or "127.0.0.1"
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{conf['NAME']}"


@pytest.fixture(scope="module")
def celery_worker(
    django_db_setup: None, app_server: LiveServer, sandbox_server: LiveServer
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process on the test databases and the test broker.

    It lives for one test module: a worker left running would take the tasks
    that later modules publish without expecting anyone to run them, and
    race their database flushes.

    It sees the live servers' URLs (APP_BASE_URL, SANDBOX_BASE_URL) so the
    work it does matches what the servers in this process expect. Tests using
    it need ``transactional_db``: the worker only sees committed rows.
    """
    from django.conf import settings
    from django.db import connections

    from b24app.celery import app as celery_app

    env = {
        **os.environ,
        "PDN_ENV": "test",
        "DATABASE_URL": _database_url("default"),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "APP_BASE_URL": app_server.url,
        "SANDBOX_BASE_URL": sandbox_server.url,
        "LOG_LEVEL": "WARNING",
    }
    if "sandbox" in connections:
        env["SANDBOX_DATABASE_URL"] = _database_url("sandbox")
    # Tasks left in the queue by earlier tests belong to rows that are gone.
    celery_app.control.purge()

    name = f"pytest-{uuid.uuid4().hex[:8]}@%h"
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "b24app",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "2",
            "--hostname",
            name,
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        cwd=root,
        env=env,
    )
    try:
        _wait_for_worker(celery_app, name.replace("%h", socket.gethostname()), process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_for_worker(
    celery_app: Any, hostname: str, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {process.returncode}")
        if celery_app.control.ping(destination=[hostname], timeout=0.5):
            return
    raise RuntimeError("the Celery worker did not answer within 60 s")


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's binary), one Playwright for the whole session.

    Playwright's sync API keeps an event loop running in this thread until
    the session ends, so a second instance cannot start: every browser test
    should use this one. The loop also looks like async code to Django's
    safety check, which is switched off for the session.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous

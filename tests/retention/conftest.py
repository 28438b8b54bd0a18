"""Sandbox portals with due leads, and a Celery worker these tests may kill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from compliance.retention.models import RetentionPolicy
from compliance.retention.policy import policy_for
from integrator.models import Portal
from sandbox.driver import SandboxDriver
from tests.conftest import _database_url, _wait_for_worker

# The salon of the integrator tests: installed through the wizard and the app.
from tests.integrator.conftest import salon, salon_portal, sandbox  # noqa: F401
from tests.integrator.rest_support import InstalledPortal, installed_portal

LONG_AGO = "2025-01-15T10:00:00+03:00"  # well past any 6–12 month clock
RECENTLY = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds")
ADMIN_USER = 1


@dataclass
class Clinic:
    """A sandbox portal with PDn Guard installed, its policy enabled."""

    world: InstalledPortal
    policy: RetentionPolicy

    @property
    def sandbox(self) -> SandboxDriver:
        return self.world.sandbox

    @property
    def ref(self) -> str:
        return self.world.ref

    @property
    def portal(self) -> Portal:
        return self.world.portal

    def leads(self, count: int, *, when: str = LONG_AGO, **fields: Any) -> list[int]:
        specs = [
            {"fields": {"TITLE": f"Заявка {n}", **fields}, "date_create": when}
            for n in range(count)
        ]
        ids: list[int] = []
        for start in range(0, len(specs), 500):
            ids.extend(self.sandbox.create_leads(self.ref, specs[start : start + 500]))
        return ids

    def exists(self, lead_id: int) -> bool:
        try:
            self.sandbox.lead(self.ref, lead_id)
        except Exception:
            return False
        return True


@pytest.fixture
def clinic(sandbox_server: Any) -> Clinic:
    world = installed_portal(sandbox_server.url)
    policy = policy_for(world.portal)
    policy.enabled = True
    policy.grace_days = 0
    policy.medical_sources = ["CLINIC_CARD"]
    policy.save()
    return Clinic(world=world, policy=policy)


@pytest.fixture
def worker_env(app_server: Any, sandbox_server: Any) -> dict[str, str]:
    from django.conf import settings

    env = {
        **os.environ,
        "PDN_ENV": "test",
        "DATABASE_URL": _database_url("default"),
        "SANDBOX_DATABASE_URL": _database_url("sandbox"),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "APP_BASE_URL": app_server.url,
        "SANDBOX_BASE_URL": sandbox_server.url,
        "DJANGO_SETTINGS_MODULE": "tests.retention.worker_settings",
        "LOG_LEVEL": "WARNING",
    }
    return env


class Worker:
    """A real Celery worker process that a test can kill and start again."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from b24app.celery import app as celery_app

        name = f"rt-{uuid.uuid4().hex[:8]}@%h"
        root = Path(__file__).resolve().parents[2]
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "b24app", "worker",
                "--pool", "threads", "--concurrency", "2", "--hostname", name,
                "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
            ],
            cwd=root,
            env=self.env,
        )  # fmt: skip
        _wait_for_worker(
            celery_app, name.replace("%h", socket.gethostname()), self.process
        )

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, locks left behind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture
def worker(worker_env: dict[str, str]) -> Iterator[Worker]:
    from b24app.celery import app as celery_app

    celery_app.control.purge()
    handle = Worker(worker_env)
    yield handle
    handle.stop()


@pytest.fixture
def chromium_page(browser: Any) -> Iterator[Any]:
    """A fresh context and page in the suite's one headless Chromium."""
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()

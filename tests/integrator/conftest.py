from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from celery.signals import after_task_publish

from integrator.models import Portal


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

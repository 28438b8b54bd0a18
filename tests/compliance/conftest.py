import itertools
from collections.abc import Callable

import pytest

from integrator.models import Portal

_numbers = itertools.count(1)


@pytest.fixture
def make_portal() -> Callable[..., Portal]:
    def make(member_id: str = "") -> Portal:
        n = next(_numbers)
        member_id = member_id or f"m-{n:03d}"
        return Portal.objects.create(
            member_id=member_id,
            domain=f"{member_id}.bitrix24.ru",
            client_endpoint=f"https://{member_id}.bitrix24.ru/rest/",
            server_endpoint="https://oauth.bitrix.info/rest/",
            application_token=f"app-token-{n}",
            status=Portal.Status.ACTIVE,
        )

    return make


@pytest.fixture
def portal(make_portal: Callable[..., Portal]) -> Portal:
    return make_portal("m-001")

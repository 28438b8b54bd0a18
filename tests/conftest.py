from collections.abc import Iterator
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

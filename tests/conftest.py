from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.live import LiveServer


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

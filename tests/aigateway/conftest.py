import itertools
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
import requests

from aigateway.keys import api_key_issue
from aigateway.models import Upstream
from aigateway.stub import StubUpstream
from aigateway.upstreams import upstream_register
from compliance.journal import Actor
from integrator.models import Portal
from tests.live import LiveServer

ADMIN = Actor.user(1, "admin")
STUB_KEY = "sk-stub-vendor-key"
STUB_MODELS = {
    "assistant": "stub-echo",
    "assistant-reorder": "stub-reorder",
    "assistant-repeat": "stub-repeat",
    "assistant-recall": "stub-recall",
    "assistant-broken": "stub-fail",
    "assistant-garbage": "stub-garbage",
    "assistant-slow": "stub-slow",
    "assistant-truncate": "stub-truncate",
    "assistant-stream-error": "stub-stream-error",
}
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def stub_app() -> StubUpstream:
    return StubUpstream(api_key=STUB_KEY, slow_seconds=3.0)


@pytest.fixture(scope="session")
def stub_server(stub_app: StubUpstream) -> Iterator[LiveServer]:
    """The stub model on its own port, as a vendor would be."""
    server = LiveServer(stub_app)
    yield server
    server.close()


@pytest.fixture
def stub(stub_app: StubUpstream, stub_server: LiveServer) -> StubUpstream:
    stub_app.reset()
    stub_app.chunk_size = 3
    return stub_app


@pytest.fixture
def make_portal() -> Callable[..., Portal]:
    def make() -> Portal:
        n = next(_numbers)
        member_id = f"ai-{n:03d}"
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
def portal(transactional_db: None, make_portal: Callable[..., Portal]) -> Portal:
    return make_portal()


@pytest.fixture
def register_stub(
    stub_server: LiveServer,
) -> Callable[..., Upstream]:
    def register(portal: Portal, **overrides: Any) -> Upstream:
        options: dict[str, Any] = {
            "code": "stub",
            "name": "Stub model",
            "base_url": f"{stub_server.url}/v1",
            "model_map": STUB_MODELS,
            "api_key": STUB_KEY,
            "country": "RU",
            "processor_agreement_at": date(2026, 1, 15),
            "timeout_seconds": 10,
        }
        options.update(overrides)
        return upstream_register(portal=portal, actor=ADMIN, **options)

    return register


@pytest.fixture
def upstream(portal: Portal, register_stub: Callable[..., Upstream]) -> Upstream:
    return register_stub(portal)


@pytest.fixture
def api_key(portal: Portal) -> str:
    return api_key_issue(portal=portal, label="chat assistant", actor=ADMIN)[1]


class Gateway:
    """An integration calling the gateway over HTTP."""

    def __init__(self, base_url: str, key: str) -> None:
        self.url = f"{base_url}/v1/chat/completions"
        self.key = key

    def post(
        self,
        body: Any,
        *,
        key: str | None = None,
        dialog: str = "",
        client: str = "",
        stream: bool = False,
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.key if key is None else key}"}
        if dialog:
            headers["X-PDN-Dialog-Id"] = dialog
        if client:
            headers["X-PDN-Client-Ref"] = client
        return requests.post(
            self.url, json=body, headers=headers, timeout=30, stream=stream
        )

    def ask(
        self, text: str, *, model: str = "assistant", history: Any = (), **kw: Any
    ) -> requests.Response:
        messages = [*history, {"role": "user", "content": text}]
        return self.post({"model": model, "messages": messages}, **kw)


@pytest.fixture
def gateway(app_server: LiveServer, upstream: Upstream, api_key: str) -> Gateway:
    return Gateway(app_server.url, api_key)


def answer_text(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


def sent_text(stub: StubUpstream) -> str:
    """Everything the stub model received, as one text."""
    import json

    return "\n".join(json.dumps(r, ensure_ascii=False) for r in stub.received)

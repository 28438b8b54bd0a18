import io
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from aigateway.models import Upstream
from aigateway.upstreams import upstream_headers


def test_a_vendor_abroad_without_a_cross_border_notice_is_refused(
    gateway, stub, upstream
):
    upstream.country = "US"
    upstream.save()

    response = gateway.ask("Я Анна Смирнова")

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "cross_border_not_notified"
    assert error["type"] == "permission_error"
    assert stub.received == []


def test_a_vendor_abroad_with_a_notice_on_record_is_allowed(gateway, stub, upstream):
    upstream.country = "US"
    upstream.cross_border_notice_at = date(2026, 2, 1)
    upstream.save()

    response = gateway.ask("Я Анна Смирнова")

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Я Анна Смирнова"


def test_a_notice_dated_in_the_future_does_not_count_yet(gateway, stub, upstream):
    upstream.country = "DE"
    upstream.cross_border_notice_at = timezone.localdate() + timedelta(days=3)
    upstream.save()

    assert gateway.ask("Привет").status_code == 403


def test_a_vendor_without_a_processor_agreement_is_refused(gateway, stub, upstream):
    upstream.processor_agreement_at = None
    upstream.save()

    response = gateway.ask("Привет")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "no_processor_agreement"
    assert stub.received == []


def test_a_disabled_vendor_is_refused(gateway, stub, upstream):
    upstream.enabled = False
    upstream.save()

    assert gateway.ask("Привет").json()["error"]["code"] == "upstream_disabled"


def test_a_yandex_vendor_is_told_not_to_log_requests(gateway, stub, upstream):
    upstream.is_yandex = True
    upstream.save()

    gateway.ask("Привет")

    assert stub.received[0]["headers"]["x-data-logging-enabled"] == "false"


def test_other_vendors_get_no_yandex_header_but_their_key(gateway, stub):
    gateway.ask("Привет")

    headers = stub.received[0]["headers"]
    assert "x-data-logging-enabled" not in headers
    assert headers["authorization"] == "Bearer sk-stub-vendor-key"


@pytest.mark.parametrize(
    "url",
    [
        "https://llm.api.cloud.yandex.net/v1",
        "https://foundation-models.api.yandexcloud.net/v1",
        "https://gpt.yandex.ru/v1",
    ],
)
def test_yandex_hosts_are_recognised_without_the_flag(url):
    upstream = Upstream(base_url=url)

    assert upstream.sends_to_yandex
    assert upstream_headers(upstream)["x-data-logging-enabled"] == "false"


@pytest.mark.parametrize(
    "url", ["https://api.openai.com/v1", "https://notyandex.net/v1", "http://127.0.0.1"]
)
def test_other_hosts_are_not_taken_for_yandex(url):
    assert not Upstream(base_url=url).sends_to_yandex


def test_the_vendor_key_is_stored_sealed(upstream):
    row = Upstream.objects.get(pk=upstream.pk)

    assert "sk-stub-vendor-key" not in row.api_key_sealed
    assert row.api_key == "sk-stub-vendor-key"


def test_a_vendor_that_rejects_the_key_is_a_502(gateway, stub, upstream):
    upstream.set_api_key("sk-wrong")
    upstream.save()

    response = gateway.ask("Привет")

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_status_401"


def test_vendor_failures_are_502_without_the_vendors_text(gateway, stub):
    broken = gateway.ask("Привет", model="assistant-broken")
    garbage = gateway.ask("Привет", model="assistant-garbage")

    assert broken.status_code == 502
    assert broken.json()["error"]["code"] == "upstream_status_500"
    assert "stub failure" not in broken.text
    assert garbage.status_code == 502
    assert garbage.json()["error"]["code"] == "upstream_bad_json"


def test_a_vendor_too_slow_for_its_timeout_is_a_502(gateway, stub, upstream):
    upstream.timeout_seconds = 1
    upstream.save()

    response = gateway.ask("Привет", model="assistant-slow")

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_timeout"


def test_an_unreachable_vendor_is_a_502(gateway, stub, upstream):
    upstream.base_url = "http://127.0.0.1:9/v1"
    upstream.save()

    response = gateway.ask("Привет")

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"


def test_the_command_registers_a_vendor_with_its_key_from_the_environment(
    portal, monkeypatch
):
    monkeypatch.setenv("VENDOR_KEY", "AQVN-secret")
    out = io.StringIO()

    call_command(
        "aigateway_upstream",
        portal.member_id,
        "--code=yandexgpt",
        "--name=YandexGPT",
        "--base-url=https://llm.api.cloud.yandex.net/v1",
        "--model=assistant=gpt://b1g/yandexgpt/latest",
        "--agreement-date=2026-01-10",
        "--auth-scheme=Api-Key",
        "--api-key-env=VENDOR_KEY",
        stdout=out,
    )

    upstream = Upstream.objects.get(portal=portal, code="yandexgpt")
    assert upstream.model_map == {"assistant": "gpt://b1g/yandexgpt/latest"}
    assert upstream.api_key == "AQVN-secret"
    assert upstream.sends_to_yandex
    assert upstream_headers(upstream)["Authorization"] == "Api-Key AQVN-secret"
    assert "ready" in out.getvalue()
    assert "AQVN-secret" not in out.getvalue()


def test_the_command_says_when_a_foreign_vendor_is_not_yet_usable(portal):
    out = io.StringIO()

    call_command(
        "aigateway_upstream",
        portal.member_id,
        "--code=openai",
        "--name=OpenAI",
        "--base-url=https://api.openai.com/v1",
        "--model=assistant=gpt-4o-mini",
        "--country=US",
        "--agreement-date=2026-01-10",
        stdout=out,
    )

    assert "refused: cross_border_not_notified" in out.getvalue()

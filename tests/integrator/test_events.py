"""The event receiver: trust by application token, one task per event, fast 200."""

import json
from pathlib import Path

import pytest
from django.test import Client

from integrator.events import delivery_key, parse_event
from integrator.install import portal_purge
from integrator.models import EventDelivery, Portal

PAYLOADS = Path(__file__).parent / "payloads"
FORM = "application/x-www-form-urlencoded"
URL = "/b24/events/"

pytestmark = pytest.mark.django_db


def lead_update(proof: str = "apptok-7f3c", member_id: str = "m-001") -> str:
    return (
        "event=ONCRMLEADUPDATE&event_handler_id=17&ts=1717000000"
        "&data[FIELDS][ID]=1043&auth[domain]=example-portal.bitrix24.ru"
        f"&auth[member_id]={member_id}&auth[application_token]={proof}"
        "&auth[access_token]=zzz"
    )


def uninstall(proof: str = "apptok-7f3c", clean: str = "1") -> str:
    return (
        f"event=ONAPPUNINSTALL&ts=1717000100&data[CLEAN]={clean}"
        "&data[LANGUAGE_ID]=ru&auth[domain]=example-portal.bitrix24.ru"
        f"&auth[member_id]=m-001&auth[application_token]={proof}"
    )


@pytest.fixture
def post(client: Client, django_capture_on_commit_callbacks):
    """POST a body as Bitrix24 would, running what the view enqueues on commit."""

    def send(body: str | bytes, content_type: str = FORM):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, data=body, content_type=content_type)

    return send


def lead_tasks(published):
    return [p for p in published if p.task.endswith("process_lead_event")]


def test_a_forged_application_token_is_refused_and_changes_nothing(
    example_portal, post, published
):
    body = (PAYLOADS / "lead_update_forged.txt").read_text().strip()

    response = post(body)

    assert response.status_code == 401
    assert published == []
    assert not EventDelivery.objects.exists()


def test_the_right_token_enqueues_exactly_one_task_with_the_lead_id_as_int(
    example_portal, post, published
):
    response = post(lead_update())

    assert response.status_code == 200
    tasks = lead_tasks(published)
    assert len(tasks) == 1
    assert tasks[0].kwargs["lead_id"] == 1043
    assert type(tasks[0].kwargs["lead_id"]) is int
    delivery = EventDelivery.objects.get()
    assert (delivery.event, delivery.entity_id) == ("ONCRMLEADUPDATE", 1043)
    assert delivery.processed_at is None


def test_a_body_exactly_as_bitrix24_encodes_it_is_accepted(
    example_portal, post, published
):
    body = (PAYLOADS / "lead_update_bitrix24.txt").read_text().strip()

    response = post(body)

    assert response.status_code == 200
    assert [t.kwargs["lead_id"] for t in lead_tasks(published)] == [1043]


def test_an_unknown_portal_is_refused(example_portal, post, published):
    response = post(lead_update(member_id="m-999"))

    assert response.status_code in (401, 403)
    assert published == []
    assert not EventDelivery.objects.exists()


def test_a_repeated_delivery_is_recorded_and_enqueued_once(
    example_portal, post, published
):
    first = post(lead_update())
    again = post(lead_update().replace("event_handler_id=17", "event_handler_id=18"))

    assert (first.status_code, again.status_code) == (200, 200)
    assert len(lead_tasks(published)) == 1
    assert EventDelivery.objects.count() == 1


def test_a_later_change_of_the_same_lead_is_a_new_delivery(
    example_portal, post, published
):
    post(lead_update())
    post(lead_update().replace("ts=1717000000", "ts=1717000007"))

    assert len(lead_tasks(published)) == 2


def test_a_json_body_is_read_like_a_form_body(example_portal, post, published):
    body = {
        "event": "ONCRMLEADADD",
        "event_handler_id": "5",
        "ts": "1717000000",
        "data": {"FIELDS": {"ID": "1043"}},
        "auth": {"member_id": "m-001", "application_token": "apptok-7f3c"},
    }

    response = post(json.dumps(body), content_type="application/json")

    assert response.status_code == 200
    assert [t.kwargs["lead_id"] for t in lead_tasks(published)] == [1043]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('["a list"]', "application/json"),
        ("", FORM),
        ("event=ONCRMLEADUPDATE&data[FIELDS][ID]=1043", FORM),
        ("event=ONCRMLEADUPDATE&auth=flat&data[FIELDS][ID]=1", FORM),
        (lead_update().replace("data[FIELDS][ID]=1043", "data[FIELDS][ID]=abc"), FORM),
        (lead_update().replace("data[FIELDS][ID]=1043", "data[FIELDS][ID]=-5"), FORM),
        (lead_update().replace("data[FIELDS][ID]=1043&", ""), FORM),
        (b"event=ONCRMLEADUPDATE&" + b"x" * 70_000, FORM),
    ],
    ids=[
        "broken-json",
        "json-list",
        "empty",
        "no-auth",
        "flat-auth",
        "id-not-a-number",
        "negative-id",
        "no-id",
        "too-large",
    ],
)
def test_a_malformed_body_gets_400_and_changes_nothing(
    example_portal, post, published, body, content_type
):
    response = post(body, content_type=content_type)

    assert response.status_code == 400
    assert published == []
    assert not EventDelivery.objects.exists()


def test_an_unknown_event_gets_400(example_portal, post, published):
    response = post(lead_update().replace("ONCRMLEADUPDATE", "ONCRMDEALUPDATE"))

    assert response.status_code == 400
    assert published == []


def test_only_post_is_accepted(client, example_portal):
    assert client.get(URL).status_code == 405


def test_uninstall_with_the_stored_token_forgets_tokens_and_queues_the_purge(
    example_portal, post, published
):
    response = post(uninstall())

    assert response.status_code == 200
    portal = Portal.objects.get(pk=example_portal.pk)
    assert portal.status == Portal.Status.UNINSTALLED
    assert (portal.access_token, portal.refresh_token) == ("", "")
    assert portal.purge_requested_at is not None
    purges = [p for p in published if p.task.endswith("purge_portal")]
    assert [p.kwargs for p in purges] == [{"portal_id": portal.pk}]


def test_uninstall_without_clean_keeps_the_local_data(example_portal, post, published):
    post(uninstall(clean="0"))

    portal = Portal.objects.get(pk=example_portal.pk)
    assert portal.status == Portal.Status.UNINSTALLED
    assert portal.purge_requested_at is None
    assert not [p for p in published if p.task.endswith("purge_portal")]


def test_uninstall_with_a_wrong_token_is_refused_and_changes_nothing(
    example_portal, post, published
):
    response = post(uninstall(proof="apptok-0000"))

    assert response.status_code in (401, 403)
    portal = Portal.objects.get(pk=example_portal.pk)
    assert portal.status == Portal.Status.ACTIVE
    assert portal.refresh_token == "admin-refresh"
    assert portal.purge_requested_at is None
    assert published == []
    assert not EventDelivery.objects.exists()


def test_events_after_uninstall_are_refused(example_portal, post, published):
    post(uninstall())
    published.clear()

    response = post(lead_update())

    assert response.status_code == 401
    assert published == []


def test_the_purge_deletes_the_portals_deliveries_and_its_token(example_portal, post):
    post(lead_update())
    post(uninstall())

    assert portal_purge(portal_id=example_portal.pk) is True

    portal = Portal.objects.get(pk=example_portal.pk)
    assert not EventDelivery.objects.filter(portal=portal).exists()
    assert portal.application_token == ""
    assert portal.purged_at is not None


def test_a_purge_is_skipped_when_the_app_was_installed_again(example_portal, post):
    post(lead_update())
    post(uninstall())
    Portal.objects.filter(pk=example_portal.pk).update(status=Portal.Status.ACTIVE)

    assert portal_purge(portal_id=example_portal.pk) is False
    assert EventDelivery.objects.filter(portal=example_portal).exists()


def test_the_delivery_key_ignores_the_handler_id_and_the_tokens():
    one = parse_event(lead_update().encode(), FORM)
    other = parse_event(
        lead_update()
        .replace("event_handler_id=17", "event_handler_id=18")
        .replace("=zzz", "=other")
        .encode(),
        FORM,
    )

    assert delivery_key(one) == delivery_key(other)


def test_refusals_log_no_token_and_no_personal_data(example_portal, post, caplog):
    body = (PAYLOADS / "lead_update_forged.txt").read_text().strip()

    with caplog.at_level("DEBUG"):
        post(body)
        post(uninstall(proof="apptok-0000"))

    text = caplog.text
    assert "application token mismatch" in text
    for secret in ("WRONG-000", "apptok-7f3c", "apptok-0000", "zzz", "admin-refresh"):
        assert secret not in text

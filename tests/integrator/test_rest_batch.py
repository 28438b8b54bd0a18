"""Batch: at most 50 commands a request, PHP-style commands, per-command outcomes."""

import json
from typing import Any

import pytest

from integrator import errors, phpquery
from integrator.rest import Client, multifield_removal, portal_client
from sandbox.phpquery import parse as sandbox_parse
from tests.integrator.rest_support import FAST_RETRIES, installed_portal

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])


def _record_batches(client: Client) -> list[dict[str, str]]:
    """The ``cmd`` maps of every batch request the client sends."""
    sent: list[dict[str, str]] = []

    def keep(response: Any, *args: Any, **kwargs: Any) -> None:
        body = json.loads(response.request.body)
        if response.request.url.endswith("/batch"):
            sent.append(body["cmd"])

    client.session.hooks["response"].append(keep)
    return sent


def _stringified(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stringified(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringified(v) for v in value]
    return str(value)


def _listified(value: Any) -> Any:
    if isinstance(value, dict):
        items = {k: _listified(v) for k, v in value.items()}
        if list(items) == [str(i) for i in range(len(items))]:
            return list(items.values())
        return items
    return value


def test_a_hundred_and_twenty_deletes_go_as_fifty_fifty_and_twenty(sandbox_server):
    world = installed_portal(sandbox_server.url)
    ids = world.add_leads(120)
    client = portal_client(world.portal, pacing=FAST_RETRIES)
    sent = _record_batches(client)

    outcome = client.delete_many("crm.lead.delete", ids)

    assert [len(cmd) for cmd in sent] == [50, 50, 20]
    keys = [key for cmd in sent for key in cmd]
    assert len(set(keys)) == 120
    assert sorted(outcome.done) == sorted(ids)
    assert outcome.status == "ok"
    assert world.sandbox.lead_count(world.ref) == 0


def test_commands_carry_plus_signs_cyrillic_and_nested_fields_intact(sandbox_server):
    world = installed_portal(sandbox_server.url)
    lead_id = world.sandbox.create_lead(
        world.ref,
        {"TITLE": "Заявка", "PHONE": [{"VALUE": "+79000000000", "VALUE_TYPE": "WORK"}]},
    )
    phone_id = world.sandbox.lead(world.ref, lead_id)["PHONE"][0]["ID"]
    client = portal_client(world.portal, pacing=FAST_RETRIES)
    sent = _record_batches(client)
    update = {
        "id": lead_id,
        "fields": {
            "TITLE": "Заявка Анны",
            "PHONE": [{"ID": phone_id, "VALUE": "+79001234567", "VALUE_TYPE": "WORK"}],
        },
    }
    lookup = {"filter": {"PHONE": "+79001234567"}, "select": ["ID", "TITLE"]}

    outcome = client.batch(
        {"update": ("crm.lead.update", update), "find": ("crm.lead.list", lookup)}
    )

    cmd = sent[0]
    assert (
        f"fields[PHONE][0][ID]={phone_id}&fields[PHONE][0][VALUE]=%2B79001234567"
        "&fields[PHONE][0][VALUE_TYPE]=WORK"
    ) in cmd["update"]
    assert "filter[PHONE]=%2B79001234567" in cmd["find"]
    assert "%D0%90%D0%BD%D0%BD%D1%8B" in cmd["update"]  # "Анны", UTF-8
    for key, method, params in (
        ("update", "crm.lead.update", update),
        ("find", "crm.lead.list", lookup),
    ):
        assert cmd[key].startswith(method + "?")
        query = cmd[key].partition("?")[2]
        assert phpquery.decode(query) == _stringified(params)
        # PHP arrays are maps: the sandbox keeps {"0": …}; lists are our reading.
        assert _listified(sandbox_parse(query)) == _stringified(params)

    assert outcome.errors == {}
    assert outcome.results["update"] is True
    assert [row["ID"] for row in outcome.results["find"]] == [str(lead_id)]
    stored = world.sandbox.lead(world.ref, lead_id)
    assert stored["TITLE"] == "Заявка Анны"
    assert [(p["ID"], p["VALUE"]) for p in stored["PHONE"]] == [
        (phone_id, "+79001234567")
    ]


def test_a_partly_failed_batch_reports_each_command_on_its_own(sandbox_server):
    world = installed_portal(sandbox_server.url)
    manager = world.sandbox.add_user(world.ref, name="Мария", crm_access="own")
    own = [
        world.sandbox.create_lead(
            world.ref, {"TITLE": "Своя", "ASSIGNED_BY_ID": manager}
        )
        for _ in range(2)
    ]
    foreign = world.sandbox.create_lead(world.ref, {"TITLE": "Чужая"})
    gone = world.sandbox.create_lead(world.ref, {"TITLE": "Удалённая"})
    world.sandbox.delete_lead(world.ref, gone)
    grant = world.sandbox.issue_tokens(world.ref, user_id=manager)
    world.portal.set_tokens(
        access=grant["access_token"], refresh=grant["refresh_token"]
    )
    world.portal.save()
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    outcome = client.delete_many("crm.lead.delete", [own[0], gone, own[1], foreign])

    assert sorted(outcome.done) == sorted([own[0], own[1], gone])
    assert list(outcome.failed) == [foreign]
    assert isinstance(outcome.failed[foreign], errors.PermissionDenied)
    assert outcome.status == "partial"


def test_an_all_good_batch_with_an_empty_error_list_has_no_errors(sandbox_server):
    world = installed_portal(sandbox_server.url)
    ids = world.add_leads(2)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    outcome = client.batch(
        {f"get{i}": ("crm.lead.get", {"id": lead_id}) for i, lead_id in enumerate(ids)}
    )

    assert outcome.errors == {}
    assert outcome.missing == []
    assert [outcome.results[k]["ID"] for k in ("get0", "get1")] == [str(i) for i in ids]


def test_with_halt_the_commands_after_a_failure_are_missing(sandbox_server):
    world = installed_portal(sandbox_server.url)
    first, last = world.add_leads(2)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    outcome = client.batch(
        {
            "a": ("crm.lead.get", {"id": first}),
            "b": ("crm.lead.get", {"id": 999_999}),
            "c": ("crm.lead.get", {"id": last}),
        },
        halt=True,
    )

    assert list(outcome.results) == ["a"]
    assert isinstance(outcome.errors["b"], errors.NotFound)
    assert outcome.missing == ["c"]


def test_results_of_earlier_commands_can_feed_later_ones(sandbox_server):
    world = installed_portal(sandbox_server.url)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    outcome = client.batch(
        {
            "add": ("crm.lead.add", {"fields": {"TITLE": "Новая заявка"}}),
            "get": ("crm.lead.get", {"id": "$result[add]"}),
        }
    )

    assert outcome.results["get"]["ID"] == str(outcome.results["add"])
    assert outcome.results["get"]["TITLE"] == "Новая заявка"


def test_a_reference_across_two_requests_is_refused_before_sending(sandbox_server):
    world = installed_portal(sandbox_server.url)
    client = portal_client(world.portal, pacing=FAST_RETRIES)
    commands: dict[str, tuple[str, dict[str, object]]] = {
        f"c{i}": ("crm.lead.get", {"id": i + 1}) for i in range(50)
    }
    commands["late"] = ("crm.lead.get", {"id": "$result[c0][ID]"})

    with pytest.raises(ValueError, match="outside its batch"):
        client.batch(commands)
    assert client.requests_sent == 0


def test_a_nested_batch_is_a_per_command_error(sandbox_server):
    world = installed_portal(sandbox_server.url)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    outcome = client.batch({"inner": ("batch", {"cmd": {"x": "profile"}})})

    assert isinstance(outcome.errors["inner"], errors.PermanentError)
    assert outcome.errors["inner"].code == "ERROR_BATCH_METHOD_NOT_ALLOWED"


def test_a_phone_is_erased_by_deleting_each_of_its_items_by_id(sandbox_server):
    world = installed_portal(sandbox_server.url)
    lead_id = world.sandbox.create_lead(
        world.ref,
        {
            "TITLE": "Заявка",
            "PHONE": [
                {"VALUE": "+79001234567", "VALUE_TYPE": "WORK"},
                {"VALUE": "+79007654321", "VALUE_TYPE": "MOBILE"},
            ],
        },
    )
    phones = world.sandbox.lead(world.ref, lead_id)["PHONE"]
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    outcome = client.update_many(
        "crm.lead.update", {lead_id: {"PHONE": multifield_removal(phones)}}
    )

    assert outcome.done == [lead_id]
    assert world.sandbox.lead(world.ref, lead_id).get("PHONE", []) == []


def test_items_without_an_id_are_never_written_back_as_new_values():
    assert multifield_removal(
        [{"ID": "5", "VALUE": "+7900"}, {"VALUE": "+7901"}, {"ID": "", "VALUE": "x"}]
    ) == [{"ID": "5", "DELETE": "Y"}]


def test_an_empty_error_map_may_come_as_a_list_or_an_object():
    from integrator.rest import _as_map

    assert _as_map([]) == {}
    assert _as_map({}) == {}
    assert _as_map({"del_102": {"error": "NOT_FOUND"}}) == {
        "del_102": {"error": "NOT_FOUND"}
    }

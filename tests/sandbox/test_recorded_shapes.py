"""Sandbox answers have the shape of the examples in Bitrix24's documentation.

The examples are stored as data in tests/fixtures/b24/<method>.json; values may
differ, keys and JSON types may not (null stands for "any type").
"""

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from sandbox import phpquery

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "b24"
# Keys that name things of the documentation's own portal.
# Keys that name things of the documentation's own portal (and FILES, which the
# sandbox does not store: comments come back with an empty map).
PORTAL_SPECIFIC = re.compile(r"^(UF_CRM_|ufCrm|parentId|get_department$|FILES$)")
KEYED_BY_DATA = ("langAll",)


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def shape_diff(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where ``actual`` lacks a key of ``expected`` or has another JSON type."""
    if expected is None or actual is None:
        return []
    if isinstance(expected, bool) or isinstance(actual, bool):
        same = isinstance(expected, bool) and isinstance(actual, bool)
        return [] if same else [f"{path}: {type(actual).__name__} is not bool"]
    if isinstance(expected, int | float):
        ok = isinstance(actual, int | float)
        return [] if ok else [f"{path}: {type(actual).__name__} is not a number"]
    if isinstance(expected, str):
        ok = isinstance(actual, str)
        return [] if ok else [f"{path}: {type(actual).__name__} is not a string"]
    if isinstance(expected, list):
        if expected == [] and actual in ([], {}):
            return []  # PHP prints an empty map as []
        if not isinstance(actual, list):
            return [f"{path}: {type(actual).__name__} is not a list"]
        if expected and actual:
            return shape_diff(expected[0], actual[0], f"{path}[0]")
        return []
    if isinstance(expected, dict):
        if actual == [] and not expected:
            return []
        if not isinstance(actual, dict):
            return [f"{path}: {type(actual).__name__} is not an object"]
        if path.endswith(KEYED_BY_DATA) and expected and actual:
            # Keys are data here (language codes): compare one entry's shape.
            first = next(iter(expected.values()))
            return shape_diff(first, next(iter(actual.values())), f"{path}.*")
        problems = []
        for key, value in expected.items():
            if PORTAL_SPECIFIC.match(key) or path.endswith("SETTINGS"):
                continue
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems.extend(shape_diff(value, actual[key], f"{path}.{key}"))
        return problems
    return []


def test_the_shape_checker_catches_missing_keys_and_wrong_types():
    assert shape_diff({"a": "1", "b": [{"c": 1}]}, {"a": "x", "b": [{"c": 2.5}]}) == []
    assert shape_diff({"a": "1"}, {}) == ["$.a: missing"]
    assert shape_diff({"a": "1"}, {"a": 1}) == ["$.a: int is not a string"]
    assert shape_diff({"a": True}, {"a": "Y"}) == ["$.a: str is not bool"]
    assert shape_diff({"a": {}}, {"a": []}) == []


@pytest.fixture
def crm(sandbox, installed, app):
    """A lead with a phone and an open-line IM, a user field, a tab and a binding."""
    installed.call(
        "event.bind", {"event": "ONCRMLEADADD", "handler": app.url + "/b24/events/"}
    )
    installed.call(
        "crm.lead.userfield.add",
        {"fields": {"FIELD_NAME": "PDN_CONSENT", "USER_TYPE_ID": "string"}},
    )
    lead_id = installed.call(
        "crm.lead.add",
        {
            "fields": {
                "TITLE": "Запись",
                "NAME": "Анна",
                "PHONE": [{"VALUE": "+79001234567", "VALUE_TYPE": "WORK"}],
                "IM": [{"VALUE": "imol|livechat|1|67|21", "VALUE_TYPE": "OPENLINE"}],
                "UF_CRM_PDN_CONSENT": "Y",
            }
        },
    ).json()["result"]
    installed.call(
        "crm.timeline.comment.add",
        {"fields": {"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead", "COMMENT": "Да"}},
    )
    installed.call(
        "placement.bind",
        {
            "PLACEMENT": "CRM_LEAD_DETAIL_TAB",
            "HANDLER": app.url + "/b24/placement/lead-tab/",
            "TITLE": "ПДн",
            "LANG_ALL": {"ru": {"TITLE": "ПДн", "DESCRIPTION": "", "GROUP_NAME": ""}},
        },
    )
    return lead_id


CALLS = {
    "crm.lead.get": lambda lead: {"id": lead},
    "crm.lead.list": lambda lead: {"select": ["*"]},
    "crm.lead.update": lambda lead: {"id": lead, "fields": {"TITLE": "x"}},
    "crm.lead.fields": lambda lead: {},
    "crm.lead.userfield.list": lambda lead: {},
    "crm.timeline.comment.add": lambda lead: {
        "fields": {"ENTITY_ID": lead, "ENTITY_TYPE": "lead", "COMMENT": "x"}
    },
    "crm.timeline.comment.list": lambda lead: {
        "filter": {"ENTITY_ID": lead, "ENTITY_TYPE": "lead"}
    },
    "crm.item.list": lambda lead: {"entityTypeId": 1},
    "crm.status.list": lambda lead: {},
    "crm.duplicate.findbycomm": lambda lead: {
        "type": "PHONE",
        "values": ["+79001234567"],
    },
    "userconsent.agreement.list": lambda lead: {},
    "userconsent.agreement.text": lambda lead: {"id": 1},
    "userconsent.consent.add": lambda lead: {"AGREEMENT_ID": 1, "IP": "10.0.0.1"},
    "crm.item.get": lambda lead: {"entityTypeId": 1, "id": lead},
    "event.get": lambda lead: {},
    "placement.get": lambda lead: {},
    "app.info": lambda lead: {},
    "profile": lambda lead: {},
    "user.current": lambda lead: {},
    "user.admin": lambda lead: {},
    "user.access": lambda lead: {"ACCESS": ["G1"]},
    "batch": lambda lead: {
        "cmd": {"get_user": "user.current", "leads": "crm.lead.list?select[]=ID"}
    },
}


@pytest.mark.parametrize("method", sorted(CALLS))
def test_reads_have_the_documented_shape(installed, crm, method):
    answer = installed.call(method, CALLS[method](crm)).json()
    expected = recorded(method)
    if method == "crm.lead.list":
        expected.pop("next")  # one lead here: a single page has no next
    if method == "crm.duplicate.findbycomm":
        # Keys are entity types; the sandbox keeps leads, the example shows contacts.
        expected["result"] = {"LEAD": expected["result"]["CONTACT"]}
    assert shape_diff(expected, answer) == []


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("crm.lead.add", {"fields": {"TITLE": "x"}}),
        (
            "crm.lead.userfield.add",
            {"fields": {"FIELD_NAME": "PDN_X", "USER_TYPE_ID": "string"}},
        ),
        ("event.bind", {"event": "ONCRMLEADUPDATE", "handler": "{app}/b24/events/"}),
        (
            "placement.bind",
            {"PLACEMENT": "CRM_LEAD_LIST_MENU", "HANDLER": "{app}/b24/menu/"},
        ),
        ("event.unbind", {"event": "ONCRMLEADADD", "handler": "{app}/b24/events/"}),
        ("placement.unbind", {"PLACEMENT": "CRM_LEAD_DETAIL_TAB"}),
    ],
)
def test_writes_have_the_documented_shape(installed, crm, app, method, params):
    filled = json.loads(json.dumps(params).replace("{app}", app.url))
    answer = installed.call(method, filled).json()
    assert shape_diff(recorded(method), answer) == []


@pytest.mark.parametrize("method", ["crm.lead.delete", "crm.item.delete"])
def test_deletes_have_the_documented_shape(installed, crm, method):
    params = {"id": crm, "entityTypeId": 1}
    answer = installed.call(method, params).json()
    assert shape_diff(recorded(method), answer) == []


def test_a_lead_event_has_the_documented_keys(sandbox, installed, crm, app):
    sandbox.wait_for_deliveries(installed.portal.ref, count=1, event="ONCRMLEADADD")
    [received] = [r for r in app.posts_to("/b24/events/") if "ONCRMLEADADD" in r.body]
    assert shape_diff(recorded("ONCRMLEADADD"), received.form) == []


def test_the_install_event_has_the_documented_keys(sandbox, portal, app):
    sandbox.install(portal.ref)
    sandbox.wait_for_deliveries(portal.ref, count=1)
    [received] = app.posts_to("/b24/events/")
    # In the form body every scalar is a string; the documentation shows JSON.
    expected = phpquery.parse(phpquery.encode(recorded("ONAPPINSTALL")))
    assert shape_diff(expected, received.form) == []
    assert next(k for k, _ in parse_qsl(received.body)) == "event"

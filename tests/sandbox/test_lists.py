from typing import Any

import pytest

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])


def body(response):
    data = response.json()
    assert "error" not in data, data
    return data


@pytest.fixture
def many(sandbox, installed):
    """120 leads, created by a manager, spread over nine months."""
    specs = []
    for n in range(120):
        source = "WHATSAPP" if n % 2 else "TELEGRAM"
        fields: dict[str, Any] = {"TITLE": f"Лид {n}", "SOURCE_ID": source}
        if n % 10 == 0:
            fields["PHONE"] = [{"VALUE": "+79001234567"}]
        created = f"2025-0{1 + n % 9}-15T10:00:00+03:00"
        specs.append({"fields": fields, "date_create": created})
    return sandbox.create_leads(installed.portal.ref, specs, user_id=2)


def test_lists_come_fifty_at_a_time_with_total_and_next(installed, many):
    first = body(installed.call("crm.lead.list", {"order": {"ID": "ASC"}}))
    third = body(
        installed.call("crm.lead.list", {"order": {"ID": "ASC"}, "start": 100})
    )

    assert len(first["result"]) == 50
    assert first["total"] == 120
    assert first["next"] == 50
    assert len(third["result"]) == 20
    assert "next" not in third
    assert third["result"][0]["ID"] == str(many[100])


def test_start_minus_one_skips_the_count(installed, many):
    page = body(installed.call("crm.lead.list", {"start": -1, "order": {"ID": "ASC"}}))
    assert page["total"] == 0
    assert "next" not in page
    assert len(page["result"]) == 50


def test_the_id_cursor_recipe_reads_every_lead_once(installed, many):
    seen: list[int] = []
    last = 0
    while True:
        rows = body(
            installed.call(
                "crm.lead.list",
                {"order": {"ID": "ASC"}, "filter": {">ID": last}, "start": -1},
            )
        )["result"]
        if not rows:
            break
        seen.extend(int(r["ID"]) for r in rows)
        last = seen[-1]
    assert seen == many


def test_filters_by_prefix(installed, many):
    def ids(filters):
        rows: list[int] = []
        start = 0
        while start is not None:
            page = body(
                installed.call("crm.lead.list", {"filter": filters, "start": start})
            )
            rows.extend(int(r["ID"]) for r in page["result"])
            start = page.get("next")
        return rows

    assert ids({"SOURCE_ID": "WHATSAPP"}) == many[1::2]
    assert ids({"!SOURCE_ID": "WHATSAPP"}) == many[0::2]
    assert ids({"@ID": [many[0], many[5]]}) == [many[0], many[5]]
    assert ids({"!@ID": many[2:]}) == many[:2]
    assert ids({">=ID": many[118]}) == many[118:]
    assert ids({"<ID": many[1]}) == many[:1]
    assert ids({"<DATE_CREATE": "2025-01-31T00:00:00"}) == many[0::9]
    assert ids({"%TITLE": "Лид 11"}) == [many[11], *many[110:120]]
    assert ids({"PHONE": "+79001234567"}) == many[0::10]
    assert ids({"PHONE": " 79001234567"}) == []
    assert ids({"ASSIGNED_BY_ID": 1}) == []


def test_select_picks_fields_and_uf_mask(installed, many):
    installed.call(
        "crm.lead.userfield.add",
        {"fields": {"FIELD_NAME": "PDN_CONSENT", "USER_TYPE_ID": "string"}},
    )
    installed.call(
        "crm.lead.update", {"id": many[0], "fields": {"UF_CRM_PDN_CONSENT": "Y"}}
    )
    page = body(
        installed.call(
            "crm.lead.list",
            {"select": ["TITLE", "UF_*", "PHONE"], "filter": {"ID": many[0]}},
        )
    )
    assert page["result"] == [
        {
            "ID": str(many[0]),
            "TITLE": "Лид 0",
            "UF_CRM_PDN_CONSENT": "Y",
            "PHONE": page["result"][0]["PHONE"],
        }
    ]


def test_order_desc(installed, many):
    page = body(installed.call("crm.lead.list", {"order": {"ID": "DESC"}}))
    assert page["result"][0]["ID"] == str(many[-1])


def test_crm_item_list_wraps_items_with_lowercase_ids(installed, many):
    page = body(
        installed.call(
            "crm.item.list",
            {"entityTypeId": 1, "order": {"id": "ASC"}, "filter": {">id": many[59]}},
        )
    )
    assert page["total"] == 60
    assert page["next"] == 50
    assert page["result"]["items"][0]["id"] == many[60]
    assert page["result"]["items"][0]["sourceId"] in ("WHATSAPP", "TELEGRAM")


def test_crm_item_get_and_delete(installed, many):
    item = body(installed.call("crm.item.get", {"entityTypeId": 1, "id": many[0]}))
    gone = body(installed.call("crm.item.delete", {"entityTypeId": 1, "id": many[0]}))
    again = installed.call("crm.item.get", {"entityTypeId": 1, "id": many[0]})

    assert item["result"]["item"]["id"] == many[0]
    assert item["result"]["item"]["fm"][0]["value"] == "+79001234567"
    assert gone["result"] == []
    assert again.json()["error"] == "NOT_FOUND"


def test_deleting_while_paging_by_offset_skips_leads(installed, many):
    """Offsets move under deletes, as on a real portal; the ID cursor does not."""
    start = 0
    deleted: list[int] = []
    while True:
        page = body(
            installed.call("crm.lead.list", {"order": {"ID": "ASC"}, "start": start})
        )
        cmd = {f"d{r['ID']}": f"crm.lead.delete?id={r['ID']}" for r in page["result"]}
        done = body(installed.call("batch", {"cmd": cmd}))["result"]["result"]
        deleted.extend(int(key[1:]) for key in done)
        if "next" not in page:
            break
        start = page["next"]
    assert len(deleted) == 70

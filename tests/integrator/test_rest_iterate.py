"""Reading every matching row while deleting them: ``>ID`` paging, not offsets."""

from datetime import UTC, datetime, timedelta

import pytest

from integrator.rest import PAGE_SIZE, Client, portal_client
from tests.integrator.rest_support import FAST_RETRIES, installed_portal

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])

CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)
OLD = (CUTOFF - timedelta(days=200)).isoformat()


def _old_leads(world, count: int) -> list[int]:
    return [
        world.sandbox.create_lead(
            world.ref, {"TITLE": f"Старая заявка {n}"}, date_create=OLD
        )
        for n in range(count)
    ]


def _sweep(client: Client, **kwargs) -> list[int]:
    """What a retention run does: read due leads, delete each page as it comes."""
    deleted: list[int] = []
    page: list[int] = []
    id_key = "id" if kwargs.get("item_shape") == "item" else "ID"
    method = "crm.item.list" if id_key == "id" else "crm.lead.list"
    delete = "crm.item.delete" if id_key == "id" else "crm.lead.delete"
    extra = {"entityTypeId": 1} if id_key == "id" else None
    filter_key = "<createdTime" if id_key == "id" else "<DATE_CREATE"
    rows = client.iterate(
        method,
        filter={filter_key: CUTOFF.isoformat()},
        select=[id_key],
        params=extra,
        **kwargs,
    )
    for row in rows:
        page.append(int(row[id_key]))
        if len(page) == PAGE_SIZE:
            deleted += client.delete_many(delete, page, extra=extra).done
            page = []
    if page:
        deleted += client.delete_many(delete, page, extra=extra).done
    return deleted


@pytest.mark.parametrize("pages_per_request", [1, 50])
def test_deleting_while_reading_removes_every_due_lead_exactly_once(
    sandbox_server, pages_per_request
):
    world = installed_portal(sandbox_server.url)
    due = _old_leads(world, 120)
    fresh = world.add_leads(3)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    deleted = _sweep(client, pages_per_request=pages_per_request)

    assert sorted(deleted) == sorted(due)
    assert len(deleted) == len(set(deleted))
    assert world.sandbox.lead_count(world.ref) == len(fresh)
    for lead_id in fresh:
        assert world.sandbox.lead(world.ref, lead_id)["ID"] == str(lead_id)


@pytest.mark.parametrize("pages_per_request", [1, 50])
def test_the_universal_item_list_is_paged_by_its_lowercase_id(
    sandbox_server, pages_per_request
):
    world = installed_portal(sandbox_server.url)
    due = _old_leads(world, 120)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    deleted = _sweep(client, item_shape="item", pages_per_request=pages_per_request)

    assert sorted(deleted) == sorted(due)
    assert world.sandbox.lead_count(world.ref) == 0


def test_pages_read_in_one_batch_cost_one_request_for_many_rows(sandbox_server):
    world = installed_portal(sandbox_server.url)
    ids = world.add_leads(120)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    rows = list(client.iterate("crm.lead.list", select=["ID", "TITLE"]))

    assert [int(row["ID"]) for row in rows] == sorted(ids)
    assert client.requests_sent == 1


def test_reading_stops_on_the_first_short_page_without_trusting_total(
    sandbox_server,
):
    world = installed_portal(sandbox_server.url)
    ids = world.add_leads(100)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    rows = list(client.iterate("crm.lead.list", select=["ID"], pages_per_request=1))

    # 50 + 50 + an empty page that ends it; start=-1 means no total at all.
    assert [int(row["ID"]) for row in rows] == sorted(ids)
    assert client.requests_sent == 3


def test_the_naive_offset_loop_skips_leads_and_this_test_sees_it(sandbox_server):
    world = installed_portal(sandbox_server.url)
    due = _old_leads(world, 120)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    deleted: list[int] = []
    start: int | None = 0
    while start is not None:
        page = client.call_raw(
            "crm.lead.list",
            {
                "filter": {"<DATE_CREATE": CUTOFF.isoformat()},
                "order": {"ID": "ASC"},
                "select": ["ID"],
                "start": start,
            },
        )
        ids = [int(row["ID"]) for row in page.result]
        deleted += client.delete_many("crm.lead.delete", ids).done
        start = page.next

    assert len(deleted) == 70
    assert sorted(deleted) == sorted(due[:50] + due[100:])
    assert world.sandbox.lead_count(world.ref) == 50

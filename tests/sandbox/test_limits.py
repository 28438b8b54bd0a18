import pytest
import requests

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])


@pytest.fixture
def frozen(sandbox, installed):
    """A stopped clock: the bucket does not drain while the test runs."""
    sandbox.freeze_clock()
    sandbox.reset_limits(installed.portal.ref)
    return installed


def test_the_fifty_first_request_in_a_burst_is_503(sandbox, frozen):
    statuses = [frozen.call("user.admin").status_code for _ in range(51)]

    assert statuses[:50] == [200] * 50
    last = frozen.call("user.admin")
    assert last.status_code == 503
    assert last.json() == {
        "error": "QUERY_LIMIT_EXCEEDED",
        "error_description": "Too many requests",
    }
    assert sandbox.counters(frozen.portal.ref)["query_limit_503"] == 2


def test_the_bucket_drains_two_per_second(sandbox, frozen):
    sandbox.configure_portal(frozen.portal.ref, bucket_burst=5)
    for _ in range(5):
        frozen.call("user.admin")
    assert frozen.call("user.admin").status_code == 503

    sandbox.advance_clock(1.0)
    assert [frozen.call("user.admin").status_code for _ in range(3)] == [200, 200, 503]


def test_enterprise_allows_a_burst_of_250(sandbox, frozen):
    sandbox.set_plan(frozen.portal.ref, "enterprise")
    portal = sandbox.portal(frozen.portal.ref)
    assert portal.raw["limits"] == {"rate": 5.0, "burst": 250}


def test_a_method_over_its_operating_budget_is_429_until_reset(sandbox, frozen):
    sandbox.set_faults(frozen.portal.ref, method_costs={"crm.lead.list": 300})
    first = frozen.call("crm.lead.list")
    second = frozen.call("crm.lead.list")
    third = frozen.call("crm.lead.list")
    other = frozen.call("profile")

    assert first.json()["time"]["operating"] >= 300
    assert second.status_code == 200  # the call that crosses the line completes
    assert third.status_code == 429
    assert third.json()["error"] == "OPERATION_TIME_LIMIT"
    assert other.status_code == 200

    reset_at = second.json()["time"]["operating_reset_at"]
    now = sandbox.advance_clock(0)
    sandbox.advance_clock(reset_at - now + 1)
    assert frozen.call("crm.lead.list").status_code == 200


def test_a_blocked_method_switch(sandbox, frozen):
    sandbox.set_faults(frozen.portal.ref, block_methods=["crm.lead.get"])
    assert frozen.call("crm.lead.get", {"id": 1}).status_code == 429
    assert frozen.call("crm.lead.list").status_code == 200


def test_fault_switches_for_gateway_and_burst_errors(sandbox, frozen):
    sandbox.set_faults(frozen.portal.ref, html_502=1, burst_503=2)
    html = frozen.call("profile")
    burst = [frozen.call("profile").status_code for _ in range(2)]
    fine = frozen.call("profile")

    assert html.status_code == 502
    assert html.headers["Content-Type"].startswith("text/html")
    assert burst == [503, 503]
    assert fine.status_code == 200


def test_rest_access_denied_switch(sandbox, frozen):
    sandbox.set_faults(frozen.portal.ref, rest_access_denied=True)
    response = frozen.call("profile")
    assert response.status_code == 403
    assert response.json()["error"] == "ACCESS_DENIED"


def test_the_request_counter_counts_http_requests(sandbox, frozen):
    sandbox.reset_counters(frozen.portal.ref)
    for _ in range(3):
        frozen.call("profile")
    assert sandbox.counters(frozen.portal.ref)["requests"] == 3


def test_unknown_switches_are_refused_clearly(sandbox, frozen):
    response = requests.post(
        f"{sandbox.base_url}/_sandbox/portals/{frozen.portal.ref}/faults/",
        json={"explode": True},
        timeout=10,
    )
    assert response.status_code == 400
    assert "explode" in response.json()["error"]

import pytest

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])


def batch(installed, cmd, halt=0):
    response = installed.call("batch", {"cmd": cmd, "halt": halt})
    assert response.status_code == 200
    return response.json()["result"]


def test_results_and_errors_are_keyed_by_command_and_empty_maps_are_lists(installed):
    ok = batch(installed, {"a": "profile", "b": "user.admin"})
    assert ok["result"]["a"]["ID"] == "1"
    assert ok["result_error"] == []
    assert ok["result_total"] == []
    assert ok["result_next"] == []
    assert set(ok["result_time"]) == {"a", "b"}


def test_partial_failure_without_halt(installed):
    lead = installed.call("crm.lead.add", {"fields": {"TITLE": "x"}}).json()["result"]
    out = batch(
        installed,
        {
            "del_1": f"crm.lead.delete?id={lead}",
            "del_2": f"crm.lead.delete?id={lead}",
            "del_3": "crm.lead.get?id=abc",
        },
    )
    assert out["result"] == {"del_1": True}
    assert out["result_error"]["del_2"] == {
        "error": "",
        "error_description": "Not found",
    }
    assert "del_3" in out["result_error"]


def test_halt_stops_at_the_first_error(installed):
    out = batch(installed, {"a": "crm.lead.get?id=0", "b": "profile"}, halt=1)
    assert out["result"] == []
    assert list(out["result_error"]) == ["a"]


def test_a_command_list_answers_with_lists(installed):
    out = batch(installed, ["profile", "user.admin"])
    assert isinstance(out["result"], list)
    assert out["result"][1] is True


def test_references_to_earlier_results(installed):
    out = batch(
        installed,
        {
            "new": "crm.lead.add?fields[TITLE]=%D0%90"
            "&fields[PHONE][0][VALUE]=%2B79001234567",
            "got": "crm.lead.get?id=$result[new]",
            "list": "crm.lead.list?filter[ID]=$result[new]&select[]=ID&select[]=TITLE",
            "again": "crm.lead.get?id=$result[list][0][ID]",
            "phone": "crm.lead.list?filter[PHONE]=$result[got][PHONE][0][VALUE]",
        },
    )
    lead_id = out["result"]["new"]
    assert out["result"]["got"]["ID"] == str(lead_id)
    assert out["result"]["got"]["TITLE"] == "А"
    assert out["result"]["again"]["ID"] == str(lead_id)
    assert out["result"]["phone"][0]["ID"] == str(lead_id)
    assert out["result_total"] == {"list": 1, "phone": 1}


def test_list_commands_report_total_and_next(installed, sandbox):
    specs = [{"fields": {"TITLE": f"{n}"}} for n in range(55)]
    sandbox.create_leads(installed.portal.ref, specs)
    out = batch(installed, {"page": "crm.lead.list?order[ID]=ASC"})
    assert out["result_total"] == {"page": 55}
    assert out["result_next"] == {"page": 50}


def test_more_than_fifty_commands_fail_beyond_the_fiftieth(installed):
    cmd = {f"c{n}": "user.admin" for n in range(52)}
    out = batch(installed, cmd)
    assert len(out["result"]) == 50
    assert set(out["result_error"]) == {"c50", "c51"}
    assert out["result_error"]["c50"]["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


def test_a_nested_batch_is_not_allowed(installed):
    out = batch(installed, {"inner": "batch?cmd[a]=profile"})
    assert out["result_error"]["inner"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"


def test_a_batch_counts_once_in_the_leaky_bucket(sandbox, installed):
    sandbox.freeze_clock()
    sandbox.configure_portal(installed.portal.ref, bucket_burst=3)
    sandbox.reset_limits(installed.portal.ref)
    out = batch(installed, {f"c{n}": "user.admin" for n in range(40)})
    assert len(out["result"]) == 40
    assert installed.call("profile").status_code == 200
    assert installed.call("profile").status_code == 200
    assert installed.call("profile").status_code == 503

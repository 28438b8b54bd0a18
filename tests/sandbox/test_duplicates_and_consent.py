import pytest

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])


def test_findbycomm_matches_a_phone_however_it_was_written(sandbox, installed):
    ref = installed.portal.ref
    a = sandbox.create_lead(ref, {"PHONE": [{"VALUE": "8 (900) 123-45-67"}]})
    b = sandbox.create_lead(ref, {"PHONE": [{"VALUE": "+7 900 123 45 67"}]})
    sandbox.create_lead(ref, {"PHONE": [{"VALUE": "8 800 555-35-35"}]})

    found = installed.call(
        "crm.duplicate.findbycomm",
        {"type": "PHONE", "values": ["+79001234567"], "entity_type": "LEAD"},
    ).json()["result"]
    none = installed.call(
        "crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+79990000000"]}
    ).json()["result"]
    missing = installed.call("crm.duplicate.findbycomm", {"values": ["1"]})

    assert found == {"LEAD": [a, b]}
    assert none == []
    assert missing.status_code == 400
    assert missing.json()["error"] == "Communication type is not defined"


def test_status_list_names_lead_stages_and_sources(installed):
    stages = installed.call(
        "crm.status.list", {"filter": {"ENTITY_ID": "STATUS"}}
    ).json()["result"]
    assert [s["STATUS_ID"] for s in stages] == [
        "NEW", "IN_PROCESS", "PROCESSED", "JUNK", "CONVERTED",
    ]  # fmt: skip
    assert {s["ENTITY_ID"] for s in stages} == {"STATUS"}


def test_consents_are_written_and_agreements_read(installed):
    agreements = installed.call("userconsent.agreement.list").json()["result"]
    text = installed.call(
        "userconsent.agreement.text",
        {"id": 1, "replace": {"fields": {"COMPANY_NAME": "ООО «Бархат»"}}},
    ).json()["result"]
    added = installed.call(
        "userconsent.consent.add", {"AGREEMENT_ID": 1, "IP": "127.0.0.1"}
    ).json()
    unknown = installed.call(
        "userconsent.consent.add", {"AGREEMENT_ID": 999, "IP": "127.0.0.1"}
    ).json()
    bad_ip = installed.call(
        "userconsent.consent.add", {"AGREEMENT_ID": 1, "IP": "not-an-ip"}
    ).json()

    assert {a["ID"] for a in agreements} == {"1", "2"}
    assert "ООО «Бархат»" in text["TEXT"]
    assert isinstance(added["result"], int)
    assert unknown["error"] == "ERROR_ARGUMENT"
    assert bad_ip["error"] == "ERROR_ARGUMENT"

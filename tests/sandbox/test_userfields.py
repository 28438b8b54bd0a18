from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])


def add(installed, **fields):
    return installed.call("crm.lead.userfield.add", {"fields": fields})


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("PDN_CONSENT", "UF_CRM_PDN_CONSENT"),
        ("pdn_phone", "UF_CRM_PDN_PHONE"),
        ("UF_PDN_X", "UF_CRM_PDN_X"),
        ("UF_CRM_PDN_Y", "UF_CRM_PDN_Y"),
    ],
)
def test_the_uf_crm_prefix_is_always_added(installed, given, stored):
    response = add(installed, FIELD_NAME=given, USER_TYPE_ID="string")
    assert isinstance(response.json()["result"], int)
    listed = installed.call(
        "crm.lead.userfield.list", {"filter": {"FIELD_NAME": stored}}
    ).json()["result"]
    assert [f["FIELD_NAME"] for f in listed] == [stored]
    assert listed[0]["ENTITY_ID"] == "CRM_LEAD"


def test_a_duplicate_name_is_error_core(installed):
    add(installed, FIELD_NAME="PDN_CONSENT", USER_TYPE_ID="string")
    again = add(installed, FIELD_NAME="UF_CRM_PDN_CONSENT", USER_TYPE_ID="string")
    assert again.status_code == 400
    assert again.json()["error"] == "ERROR_CORE"


def test_concurrent_adds_of_one_name_give_one_field_and_error_core(installed):
    # The first check passes for every thread; the database decides.
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(
            pool.map(
                lambda _: add(installed, FIELD_NAME="PDN_RACE", USER_TYPE_ID="string"),
                range(6),
            )
        )

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1
    assert all(s == 400 for s in statuses if s != 200)
    assert all(
        r.json()["error"] == "ERROR_CORE" for r in responses if r.status_code != 200
    )


def test_bad_names_and_types_are_refused(installed):
    missing = add(installed, USER_TYPE_ID="string")
    symbols = add(installed, FIELD_NAME="PDN-CONSENT", USER_TYPE_ID="string")
    long = add(installed, FIELD_NAME="X" * 44, USER_TYPE_ID="string")
    kind = add(installed, FIELD_NAME="PDN_Z", USER_TYPE_ID="telepathy")

    assert missing.json() == {
        "error": "",
        "error_description": "The 'FIELD_NAME' field is not found.",
    }
    assert symbols.json()["error"] == "ERROR_CORE"
    assert long.json()["error"] == "ERROR_CORE"
    assert kind.json()["error"] == "ERROR_CORE"


def test_a_manager_cannot_add_user_fields(sandbox, installed):
    maria = sandbox.issue_tokens(installed.portal.ref, user_id=2)["access_token"]
    response = installed.call(
        "crm.lead.userfield.add",
        {"fields": {"FIELD_NAME": "X", "USER_TYPE_ID": "string"}},
        auth=maria,
    )
    assert response.status_code == 403


def test_values_are_stored_typed_and_filterable(installed):
    add(installed, FIELD_NAME="PDN_HOLD", USER_TYPE_ID="boolean")
    lead_id = installed.call(
        "crm.lead.add", {"fields": {"TITLE": "x", "UF_CRM_PDN_HOLD": "Y"}}
    ).json()["result"]
    lead = installed.call("crm.lead.get", {"id": lead_id}).json()["result"]
    held = installed.call("crm.lead.list", {"filter": {"UF_CRM_PDN_HOLD": "1"}}).json()[
        "result"
    ]

    assert lead["UF_CRM_PDN_HOLD"] is True
    assert [r["ID"] for r in held] == [str(lead_id)]


def test_user_fields_and_values_survive_uninstall(sandbox, installed):
    add(installed, FIELD_NAME="PDN_CONSENT", USER_TYPE_ID="string")
    lead_id = installed.call(
        "crm.lead.add", {"fields": {"UF_CRM_PDN_CONSENT": "granted"}}
    ).json()["result"]
    sandbox.uninstall(installed.portal.ref, clean=True)

    names = [f["FIELD_NAME"] for f in sandbox.userfields(installed.portal.ref)]
    lead = sandbox.lead(installed.portal.ref, lead_id)
    assert names == ["UF_CRM_PDN_CONSENT"]
    assert lead["UF_CRM_PDN_CONSENT"] == "granted"


def test_get_update_and_delete_a_user_field(installed):
    field_id = add(installed, FIELD_NAME="PDN_NOTE", USER_TYPE_ID="string").json()[
        "result"
    ]
    lead_id = installed.call(
        "crm.lead.add", {"fields": {"UF_CRM_PDN_NOTE": "x"}}
    ).json()["result"]

    updated = installed.call(
        "crm.lead.userfield.update",
        {"id": field_id, "fields": {"LABEL": "Заметка", "FIELD_NAME": "OTHER"}},
    ).json()["result"]
    got = installed.call("crm.lead.userfield.get", {"id": field_id}).json()["result"]
    deleted = installed.call("crm.lead.userfield.delete", {"id": field_id}).json()
    lead = installed.call("crm.lead.get", {"id": lead_id}).json()["result"]
    gone = installed.call("crm.lead.userfield.get", {"id": field_id})

    assert updated is True
    assert got["FIELD_NAME"] == "UF_CRM_PDN_NOTE"
    assert got["EDIT_FORM_LABEL"] == "Заметка"
    assert deleted["result"] is True
    assert "UF_CRM_PDN_NOTE" not in lead
    assert gone.json()["error"] == ""

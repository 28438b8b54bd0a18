import pytest

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])


def result(response):
    body = response.json()
    assert "error" not in body, body
    return body["result"]


def add_lead(installed, **fields):
    return result(installed.call("crm.lead.add", {"fields": fields}))


def test_a_new_lead_reads_back_with_string_values_and_phone_ids(installed):
    lead_id = add_lead(
        installed,
        TITLE="Запись на стрижку",
        NAME="Анна",
        PHONE=[{"VALUE": "+79001234567", "VALUE_TYPE": "MOBILE"}],
    )
    lead = result(installed.call("crm.lead.get", {"id": lead_id}))

    assert isinstance(lead_id, int)
    assert lead["ID"] == str(lead_id)
    assert lead["ASSIGNED_BY_ID"] == "1"
    assert lead["HAS_PHONE"] == "Y"
    assert lead["PHONE"] == [
        {
            "ID": lead["PHONE"][0]["ID"],
            "VALUE_TYPE": "MOBILE",
            "VALUE": "+79001234567",
            "TYPE_ID": "PHONE",
        }
    ]
    assert lead["DATE_CREATE"][-6:] == "+03:00"


def test_a_phone_item_without_id_is_appended(installed):
    lead_id = add_lead(installed, PHONE=[{"VALUE": "+79001234567"}])
    installed.call(
        "crm.lead.update", {"id": lead_id, "fields": {"PHONE": [{"VALUE": "8 900 1"}]}}
    )
    phones = result(installed.call("crm.lead.get", {"id": lead_id}))["PHONE"]
    assert [p["VALUE"] for p in phones] == ["+79001234567", "8 900 1"]


def test_a_phone_is_changed_or_deleted_by_its_id(installed):
    lead_id = add_lead(
        installed, PHONE=[{"VALUE": "1"}, {"VALUE": "2"}, {"VALUE": "3"}]
    )
    ids = [
        p["ID"]
        for p in result(installed.call("crm.lead.get", {"id": lead_id}))["PHONE"]
    ]
    change = [
        {"ID": ids[0], "VALUE": "+79990000000"},
        {"ID": ids[1], "DELETE": "Y"},
        {"ID": ids[2], "VALUE": ""},
    ]
    installed.call("crm.lead.update", {"id": lead_id, "fields": {"PHONE": change}})

    phones = result(installed.call("crm.lead.get", {"id": lead_id}))["PHONE"]
    assert phones == [
        {
            "ID": ids[0],
            "VALUE_TYPE": "WORK",
            "VALUE": "+79990000000",
            "TYPE_ID": "PHONE",
        }
    ]


def test_a_php_form_body_keeps_a_plus_encoded_as_2b(installed):
    body = (
        f"auth={installed.auth}&fields[TITLE]=%D0%97%D0%B0%D1%8F%D0%B2%D0%BA%D0%B0"
        "&fields[PHONE][0][VALUE]=%2B79001234567&fields[PHONE][0][VALUE_TYPE]=WORK"
    )
    response = installed.http.post(
        installed.portal.client_endpoint + "crm.lead.add",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    lead = result(installed.call("crm.lead.get", {"id": result(response)}))
    assert lead["TITLE"] == "Заявка"
    assert lead["PHONE"][0]["VALUE"] == "+79001234567"


def test_legacy_errors_have_an_empty_code(installed):
    missing = installed.call("crm.lead.get", {"id": 999999})
    invalid = installed.call("crm.lead.get", {"id": "abc"})

    assert missing.status_code == 400
    assert missing.json() == {"error": "", "error_description": "Not found"}
    assert invalid.json() == {
        "error": "",
        "error_description": "ID is not defined or invalid.",
    }


def test_update_and_delete(installed):
    lead_id = add_lead(installed, TITLE="Старое")
    assert (
        result(
            installed.call(
                "crm.lead.update", {"id": lead_id, "fields": {"TITLE": "Новое"}}
            )
        )
        is True
    )
    assert result(installed.call("crm.lead.get", {"id": lead_id}))["TITLE"] == "Новое"
    assert result(installed.call("crm.lead.delete", {"id": lead_id})) is True
    assert installed.call("crm.lead.get", {"id": lead_id}).json()["error"] == ""


def test_an_outsider_sees_no_leads_and_a_manager_only_his_own(sandbox, installed):
    ref = installed.portal.ref
    mine = sandbox.create_lead(ref, {"TITLE": "Олегу"}, user_id=3)
    sandbox.create_lead(ref, {"TITLE": "Марии"}, user_id=2)
    oleg = sandbox.issue_tokens(ref, user_id=3)["access_token"]
    peter = sandbox.issue_tokens(ref, user_id=4)["access_token"]

    olegs = result(installed.call("crm.lead.list", auth=oleg))
    peters = result(installed.call("crm.lead.list", auth=peter))
    denied = installed.call("crm.lead.get", {"id": mine}, auth=peter)

    assert [row["ID"] for row in olegs] == [str(mine)]
    assert peters == []
    assert denied.status_code == 403
    assert denied.json() == {"error": "", "error_description": "Access denied."}


def test_lead_fields_describes_standard_and_user_fields(installed):
    installed.call(
        "crm.lead.userfield.add",
        {"fields": {"FIELD_NAME": "PDN_CONSENT", "USER_TYPE_ID": "string"}},
    )
    fields = result(installed.call("crm.lead.fields"))
    assert fields["PHONE"]["type"] == "crm_multifield"
    assert fields["PHONE"]["isMultiple"] is True
    assert fields["UF_CRM_PDN_CONSENT"]["isDynamic"] is True


def test_timeline_comment_needs_lowercase_fields(installed):
    lead_id = add_lead(installed, TITLE="x")
    ok = installed.call(
        "crm.timeline.comment.add",
        {
            "fields": {
                "ENTITY_ID": lead_id,
                "ENTITY_TYPE": "lead",
                "COMMENT": "Согласие",
            }
        },
    )
    upper = installed.call(
        "crm.timeline.comment.add",
        {"FIELDS": {"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead", "COMMENT": "x"}},
    )
    empty = installed.call(
        "crm.timeline.comment.add",
        {"fields": {"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead", "COMMENT": " "}},
    )
    orphan = installed.call(
        "crm.timeline.comment.add",
        {"fields": {"ENTITY_ID": 999999, "ENTITY_TYPE": "lead", "COMMENT": "x"}},
    )

    assert isinstance(result(ok), int)
    assert upper.json()["error"] == "100"
    assert empty.json()["error"] == "INVALID_ARG_VALUE"
    assert orphan.json()["error"] == "OWNER_NOT_FOUND"


def test_timeline_comments_list_per_lead(installed, sandbox):
    lead_id = add_lead(installed, TITLE="x")
    for text in ("Согласие получено", "Отзыв согласия"):
        installed.call(
            "crm.timeline.comment.add",
            {"fields": {"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead", "COMMENT": text}},
        )
    listed = installed.call(
        "crm.timeline.comment.list",
        {"filter": {"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead"}},
    ).json()
    peter = sandbox.issue_tokens(installed.portal.ref, user_id=4)["access_token"]
    denied = installed.call(
        "crm.timeline.comment.list",
        {"filter": {"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead"}},
        auth=peter,
    )

    assert [c["COMMENT"] for c in listed["result"]] == [
        "Согласие получено",
        "Отзыв согласия",
    ]
    assert listed["total"] == 2
    assert listed["result"][0]["AUTHOR_ID"] == "1"
    assert denied.json() == {"error": "", "error_description": "Access denied."}

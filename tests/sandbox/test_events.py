from urllib.parse import parse_qsl

import pytest
import requests

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])

EVENT_KEYS = [
    "event", "event_handler_id", "data[FIELDS][ID]", "ts",
    "auth[access_token]", "auth[expires]", "auth[expires_in]", "auth[scope]",
    "auth[domain]", "auth[server_endpoint]", "auth[status]",
    "auth[client_endpoint]", "auth[member_id]", "auth[user_id]",
    "auth[refresh_token]", "auth[application_token]",
]  # fmt: skip
NO_TOKEN_KEYS = [
    "auth[domain]", "auth[server_endpoint]", "auth[status]",
    "auth[client_endpoint]", "auth[member_id]", "auth[application_token]",
]  # fmt: skip


def bind(installed, app, event="ONCRMLEADADD", path="/b24/events/"):
    response = installed.call("event.bind", {"event": event, "handler": app.url + path})
    assert response.json().get("result") is True, response.json()


def keys(received):
    return [key for key, _ in parse_qsl(received.body, keep_blank_values=True)]


def test_onappinstall_goes_to_the_install_event_url_with_admin_tokens(
    sandbox, portal, app
):
    result = sandbox.install(portal.ref)
    sandbox.wait_for_deliveries(portal.ref, count=1)

    [install_event] = app.posts_to("/b24/events/")
    form = install_event.form
    assert install_event.content_type == "application/x-www-form-urlencoded"
    assert form["event"] == "ONAPPINSTALL"
    assert form["data"] == {
        "VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "ru",
    }  # fmt: skip
    assert form["auth"]["member_id"] == portal.member_id
    assert (
        form["auth"]["application_token"]
        == result["frame"]["form"]["APPLICATION_TOKEN"]
    )
    assert form["auth"]["user_id"] == "1"
    assert form["auth"]["refresh_token"]


def test_the_wizard_is_posted_with_the_documented_fields(sandbox, portal, app):
    result = sandbox.install(portal.ref)

    assert result["wizard"]["status"] == 200
    [wizard] = app.posts_to("/b24/install/")
    query = dict(parse_qsl(wizard.query))
    assert set(query) == {"DOMAIN", "PROTOCOL", "LANG", "APP_SID"}
    assert query["PROTOCOL"] == "0"
    assert set(wizard.form) == {
        "AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "SERVER_ENDPOINT",
        "APPLICATION_TOKEN", "APPLICATION_SCOPE", "member_id", "status",
        "PLACEMENT", "PLACEMENT_OPTIONS",
    }  # fmt: skip
    assert wizard.form["PLACEMENT"] == "DEFAULT"
    assert wizard.form["member_id"] == portal.member_id


def test_no_crm_events_before_install_finish(sandbox, portal, app):
    form = sandbox.install(portal.ref)["frame"]["form"]
    endpoint = portal.client_endpoint
    bound = requests.post(
        endpoint + "event.bind",
        json={
            "auth": form["AUTH_ID"],
            "event": "ONCRMLEADADD",
            "handler": app.url + "/b24/events/",
        },
        timeout=10,
    )
    assert bound.json()["result"] is True

    sandbox.create_lead(portal.ref, {"TITLE": "до"}, user_id=2)
    sandbox.wait_for_deliveries(portal.ref)
    assert sandbox.deliveries(portal.ref, event="ONCRMLEADADD") == []

    sandbox.finish_install(portal.ref)
    lead_id = sandbox.create_lead(portal.ref, {"TITLE": "после"}, user_id=2)
    [delivery] = sandbox.wait_for_deliveries(portal.ref, count=1, event="ONCRMLEADADD")
    assert delivery["http_status"] == 200
    assert f"data[FIELDS][ID]={lead_id}" in delivery["body"]


def test_a_lead_event_body_has_the_documented_keys_and_the_users_tokens(
    sandbox, installed, app
):
    bind(installed, app)
    lead_id = sandbox.create_lead(installed.portal.ref, {"TITLE": "x"}, user_id=2)
    sandbox.wait_for_deliveries(installed.portal.ref, count=1, event="ONCRMLEADADD")

    [received] = [r for r in app.posts_to("/b24/events/") if "ONCRMLEADADD" in r.body]
    form = received.form
    assert keys(received) == EVENT_KEYS
    assert form["data"]["FIELDS"]["ID"] == str(lead_id)
    assert form["auth"]["application_token"] == installed.application_token
    assert form["auth"]["user_id"] == "2"
    whoami = installed.call("user.current", auth=form["auth"]["access_token"])
    assert whoami.json()["result"]["ID"] == "2"


def test_the_apps_own_writes_come_back_as_events(sandbox, installed, app):
    bind(installed, app, "ONCRMLEADADD")
    bind(installed, app, "ONCRMLEADUPDATE")
    bind(installed, app, "ONCRMLEADDELETE")
    lead_id = installed.call("crm.lead.add", {"fields": {"TITLE": "x"}}).json()[
        "result"
    ]
    installed.call("crm.lead.update", {"id": lead_id, "fields": {"TITLE": "y"}})
    installed.call("crm.lead.delete", {"id": lead_id})

    rows = sandbox.wait_for_deliveries(installed.portal.ref, count=4)
    events = [r["event"] for r in rows if r["event"].startswith("ONCRMLEAD")]
    assert events == ["ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE"]


def test_a_robots_change_carries_no_tokens(sandbox, installed, app):
    bind(installed, app, "ONCRMLEADUPDATE")
    lead_id = sandbox.create_lead(installed.portal.ref, {"TITLE": "x"})
    sandbox.update_lead(installed.portal.ref, lead_id, {"TITLE": "y"}, robot=True)
    sandbox.wait_for_deliveries(installed.portal.ref, count=2)

    [received] = [r for r in app.posts_to("/b24/events/") if "UPDATE" in r.body]
    auth_keys = [k for k in keys(received) if k.startswith("auth[")]
    assert auth_keys == NO_TOKEN_KEYS


@pytest.mark.parametrize(
    ("switch", "check"),
    [
        ("event_wrong_token", lambda form, i: form["auth"]["application_token"] != i),
        ("event_foreign_member", lambda form, i: form["auth"]["member_id"] != ""),
    ],
)
def test_forged_event_switches(sandbox, installed, app, switch, check):
    bind(installed, app)
    sandbox.set_faults(installed.portal.ref, **{switch: 1})
    sandbox.create_lead(installed.portal.ref, {"TITLE": "x"})
    sandbox.wait_for_deliveries(installed.portal.ref, count=1, event="ONCRMLEADADD")

    [received] = [r for r in app.posts_to("/b24/events/") if "ONCRMLEADADD" in r.body]
    form = received.form
    assert check(form, installed.application_token)
    if switch == "event_foreign_member":
        assert form["auth"]["member_id"] != installed.portal.member_id


def test_duplicate_drop_and_corrupt_switches(sandbox, installed, app):
    bind(installed, app)
    ref = installed.portal.ref
    sandbox.set_faults(ref, event_duplicate=1)
    sandbox.create_lead(ref, {"TITLE": "twice"})
    sandbox.set_faults(ref, event_drop=1)
    sandbox.create_lead(ref, {"TITLE": "lost"})
    sandbox.set_faults(ref, event_corrupt=1)
    sandbox.create_lead(ref, {"TITLE": "broken"})

    rows = sandbox.wait_for_deliveries(ref, count=4, event="ONCRMLEADADD")
    outcomes = [r["outcome"] for r in rows]
    assert outcomes == ["delivered", "delivered", "dropped", "delivered"]
    assert rows[0]["body"] == rows[1]["body"]
    assert "%ZZ" in rows[3]["body"]
    assert (
        len([r for r in app.posts_to("/b24/events/") if "ONCRMLEADADD" in r.body]) == 3
    )


def test_the_delivery_log_keeps_the_apps_status_and_never_retries(
    sandbox, installed, app
):
    bind(installed, app)
    app.status = 500
    sandbox.create_lead(installed.portal.ref, {"TITLE": "x"})
    [row] = sandbox.wait_for_deliveries(
        installed.portal.ref, count=1, event="ONCRMLEADADD"
    )
    assert row["outcome"] == "failed"
    assert row["http_status"] == 500
    assert (
        len([r for r in app.posts_to("/b24/events/") if "ONCRMLEADADD" in r.body]) == 1
    )


def test_delayed_events_arrive_later(sandbox, installed, app):
    bind(installed, app)
    sandbox.set_faults(installed.portal.ref, event_delay=0.5)
    sandbox.create_lead(installed.portal.ref, {"TITLE": "x"})
    assert [
        r["outcome"]
        for r in sandbox.deliveries(installed.portal.ref, event="ONCRMLEADADD")
    ] == ["pending"]
    [row] = sandbox.wait_for_deliveries(
        installed.portal.ref, count=1, event="ONCRMLEADADD"
    )
    assert row["outcome"] == "delivered"


def test_uninstall_sends_onappuninstall_without_tokens_and_drops_bindings(
    sandbox, installed, app
):
    bind(installed, app)
    installed.call(
        "placement.bind",
        {
            "PLACEMENT": "CRM_LEAD_DETAIL_TAB",
            "HANDLER": app.url + "/b24/placement/lead-tab/",
        },
    )
    sandbox.uninstall(installed.portal.ref, clean=True)
    rows = sandbox.wait_for_deliveries(installed.portal.ref, event="ONAPPUNINSTALL")
    [received] = [r for r in app.posts_to("/b24/events/") if "ONAPPUNINSTALL" in r.body]

    assert rows[0]["outcome"] == "delivered"
    assert received.form["data"] == {"LANGUAGE_ID": "ru", "CLEAN": "1"}
    assert sorted(received.form["auth"]) == sorted(k[5:-1] for k in NO_TOKEN_KEYS)
    assert received.form["auth"]["application_token"] == installed.application_token

    again = sandbox.install(installed.portal.ref)["frame"]["form"]
    sandbox.finish_install(installed.portal.ref)
    listed = installed.call("event.get", auth=again["AUTH_ID"]).json()["result"]
    placements = installed.call("placement.get", auth=again["AUTH_ID"]).json()["result"]
    assert listed == []
    assert placements == []
    assert again["APPLICATION_TOKEN"] != installed.application_token


def test_event_bind_get_and_unbind(installed, app):
    handler = app.url + "/b24/events/"
    bind(installed, app)
    duplicate = installed.call(
        "event.bind", {"event": "ONCRMLEADADD", "handler": handler}
    )
    unknown = installed.call("event.bind", {"event": "ONNOTHING", "handler": handler})
    local = installed.call(
        "event.bind", {"event": "ONCRMLEADUPDATE", "handler": "http://localhost/x"}
    )
    listed = installed.call("event.get").json()["result"]
    removed = installed.call(
        "event.unbind", {"event": "ONCRMLEADADD", "handler": handler}
    )

    assert duplicate.json() == {
        "error": "ERROR_CORE",
        "error_description": "Unable to set event handler: Handler already binded",
    }
    assert unknown.json()["error"] == "ERROR_EVENT_NOT_FOUND"
    assert local.json()["error"] == "ERROR_WRONG_HANDLER_URL"
    assert listed == [
        {"event": "ONCRMLEADADD", "handler": handler, "auth_type": "0", "offline": 0}
    ]
    assert removed.json()["result"] == {"count": 1}


def test_event_bind_needs_application_context(sandbox, installed, app):
    hook = sandbox.create_webhook(installed.portal.ref, user_id=1)
    response = requests.post(
        hook + "event.bind",
        json={"event": "ONCRMLEADADD", "handler": app.url + "/b24/events/"},
        timeout=10,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "WRONG_AUTH_TYPE"

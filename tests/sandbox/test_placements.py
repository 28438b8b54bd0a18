import json

import pytest

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])


def bind_tab(installed, app, **extra):
    params = {
        "PLACEMENT": "CRM_LEAD_DETAIL_TAB",
        "HANDLER": app.url + "/b24/placement/lead-tab/",
        "TITLE": "ПДн",
        **extra,
    }
    return installed.call("placement.bind", params)


def test_a_missing_argument_is_error_argument_with_http_200(installed, app):
    response = installed.call("placement.bind", {"HANDLER": app.url + "/x/"})
    assert response.status_code == 200
    assert response.json() == {
        "error": "ERROR_ARGUMENT",
        "error_description": "Argument 'PLACEMENT' is null or empty",
        "argument": "PLACEMENT",
    }


def test_bind_get_unbind(installed, app):
    assert bind_tab(installed, app).json()["result"] is True
    listed = installed.call("placement.get").json()["result"]
    removed = installed.call(
        "placement.unbind", {"PLACEMENT": "CRM_LEAD_DETAIL_TAB"}
    ).json()["result"]

    assert listed[0]["placement"] == "CRM_LEAD_DETAIL_TAB"
    assert listed[0]["handler"] == app.url + "/b24/placement/lead-tab/"
    assert listed[0]["title"] == "ПДн"
    assert removed == {"count": 2}


def test_a_manager_cannot_bind_placements(sandbox, installed, app):
    maria = sandbox.issue_tokens(installed.portal.ref, user_id=2)["access_token"]
    response = installed.call(
        "placement.bind",
        {"PLACEMENT": "CRM_LEAD_DETAIL_TAB", "HANDLER": app.url + "/x/"},
        auth=maria,
    )
    assert response.status_code == 403


def test_the_lead_tab_frame_carries_the_viewing_users_fresh_tokens(
    sandbox, installed, app
):
    bind_tab(installed, app)
    lead_id = sandbox.create_lead(installed.portal.ref, {"TITLE": "x"}, user_id=2)
    frame = sandbox.open_lead_tab(
        installed.portal.ref, lead_id=lead_id, user_id=2, post=True
    )

    assert frame.action == app.url + "/b24/placement/lead-tab/"
    assert frame.form["PLACEMENT"] == "CRM_LEAD_DETAIL_TAB"
    assert frame.form["PLACEMENT_OPTIONS"] == json.dumps(
        {"ID": str(lead_id)}, separators=(",", ":")
    )
    assert frame.form["member_id"] == installed.portal.member_id
    assert set(frame.query) == {"DOMAIN", "PROTOCOL", "LANG", "APP_SID"}
    whoami = installed.call("user.current", auth=frame.form["AUTH_ID"])
    assert whoami.json()["result"]["ID"] == "2"
    assert frame.response is not None and frame.response["status"] == 200
    [posted] = app.posts_to("/b24/placement/lead-tab/")
    assert posted.form["AUTH_ID"] == frame.form["AUTH_ID"]


def test_the_tab_is_hidden_until_install_finish(sandbox, portal, app):
    import requests

    form = sandbox.install(portal.ref)["frame"]["form"]
    requests.post(
        portal.client_endpoint + "placement.bind",
        json={
            "auth": form["AUTH_ID"],
            "PLACEMENT": "CRM_LEAD_DETAIL_TAB",
            "HANDLER": app.url + "/b24/placement/lead-tab/",
        },
        timeout=10,
    )
    lead_id = sandbox.create_lead(portal.ref, {"TITLE": "x"})
    with pytest.raises(Exception, match="409"):
        sandbox.open_lead_tab(portal.ref, lead_id=lead_id, user_id=1)
    sandbox.finish_install(portal.ref)
    assert sandbox.open_lead_tab(portal.ref, lead_id=lead_id, user_id=1).form

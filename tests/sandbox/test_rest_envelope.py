import pytest
import requests

# The sandbox is reset through its control API; the test itself only talks HTTP.
pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])


def test_a_call_answers_with_result_and_the_full_time_block(installed):
    response = installed.call("profile")

    assert response.status_code == 200
    body = response.json()
    assert body["result"]["ADMIN"] is True
    assert body["result"]["NAME"] == "Ирина"
    assert set(body["time"]) == {
        "start", "finish", "duration", "processing", "date_start",
        "date_finish", "operating", "operating_reset_at",
    }  # fmt: skip
    assert isinstance(body["time"]["operating_reset_at"], int)


def test_the_json_suffix_and_form_bodies_work_like_plain_names(installed):
    response = requests.post(
        installed.portal.client_endpoint + "user.admin.json",
        data={"auth": installed.auth},
        timeout=10,
    )
    assert response.json()["result"] is True


def test_auth_in_the_query_string_is_accepted(installed):
    url = f"{installed.portal.client_endpoint}user.current?auth={installed.auth}"
    assert requests.get(url, timeout=10).json()["result"]["ID"] == "1"


def test_an_unknown_method_is_404_method_not_found(installed):
    response = installed.call("crm.lead.frobnicate")
    assert response.status_code == 404
    assert response.json()["error"] == "ERROR_METHOD_NOT_FOUND"


def test_no_token_is_401_no_auth_found(installed):
    response = installed.call("profile", auth="")
    assert response.status_code == 401
    assert response.json()["error"] == "NO_AUTH_FOUND"


def test_an_expired_token_is_401_expired_token(sandbox, installed):
    sandbox.expire_tokens(installed.portal.ref)
    response = installed.call("profile")
    assert response.status_code == 401
    assert response.json() == {
        "error": "expired_token",
        "error_description": "The access token provided has expired.",
    }


def test_a_token_of_another_portal_is_refused(sandbox, installed):
    other = sandbox.create_portal("other")
    sandbox.install(other.ref)
    response = requests.post(
        other.client_endpoint + "profile", json={"auth": installed.auth}, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["error"] == "NO_AUTH_FOUND"


def test_a_method_outside_the_apps_scope_is_403_insufficient_scope(sandbox, installed):
    sandbox.configure_app(scope="placement,user_brief")
    response = installed.call("crm.lead.list")
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


def test_app_info_reports_installed_only_after_install_finish(sandbox, portal):
    form = sandbox.install(portal.ref)["frame"]["form"]
    url = portal.client_endpoint + "app.info"
    before = requests.post(url, json={"auth": form["AUTH_ID"]}, timeout=10).json()
    sandbox.finish_install(portal.ref)
    after = requests.post(url, json={"auth": form["AUTH_ID"]}, timeout=10).json()

    assert before["result"]["INSTALLED"] is False
    assert after["result"]["INSTALLED"] is True


def test_app_info_through_a_webhook_needs_application_context(sandbox, portal):
    hook = sandbox.create_webhook(portal.ref, user_id=1)
    response = requests.get(hook + "app.info", timeout=10)
    assert response.status_code == 403
    assert response.json()["error"] == "ACCESS_DENIED"


def test_an_incoming_webhook_calls_methods_as_its_user(sandbox, portal):
    hook = sandbox.create_webhook(portal.ref, user_id=2, scope="crm,user_brief")
    body = requests.post(hook + "user.current.json", timeout=10).json()
    assert body["result"]["NAME"] == "Мария"
    assert requests.post(hook + "user.admin", timeout=10).json()["result"] is False


def test_a_wrong_webhook_code_is_401(sandbox, portal):
    hook = sandbox.create_webhook(portal.ref, user_id=2)
    wrong = hook.replace("/2/", "/3/")
    assert requests.get(wrong + "profile", timeout=10).status_code == 401


def test_a_moved_portal_answers_302_at_its_old_address(sandbox, installed):
    old_endpoint = installed.portal.client_endpoint
    moved = sandbox.move_portal(installed.portal.ref, "salon-new")
    response = requests.post(
        old_endpoint + "profile",
        json={"auth": installed.auth},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/p/salon-new/rest/profile")
    again = requests.post(
        moved.client_endpoint + "profile", json={"auth": installed.auth}, timeout=10
    )
    assert again.json()["result"]["ID"] == "1"


def test_malformed_json_is_a_clear_400(installed):
    response = requests.post(
        installed.portal.client_endpoint + "profile",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "INVALID_REQUEST"

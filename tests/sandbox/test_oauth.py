import threading

import pytest
import requests

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])


def token_url(sandbox):
    return sandbox.base_url + "/oauth/token/"


def refresh(sandbox, refresh_token, **overrides):
    params = {
        "grant_type": "refresh_token",
        "client_id": "local.test.app",
        "client_secret": "test-secret",
        "refresh_token": refresh_token,
        **overrides,
    }
    return requests.get(token_url(sandbox), params=params, timeout=10)


def test_a_refresh_returns_the_documented_shape(sandbox, installed):
    response = refresh(sandbox, installed.refresh)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token", "refresh_token", "expires", "expires_in", "scope", "domain",
        "server_endpoint", "status", "client_endpoint", "member_id", "user_id",
    }  # fmt: skip
    assert body["member_id"] == installed.portal.member_id
    assert body["client_endpoint"] == installed.portal.client_endpoint
    assert body["server_endpoint"] == sandbox.base_url + "/oauth/rest/"
    assert body["domain"] == sandbox.base_url.split("//")[1]
    assert body["expires_in"] == 3600
    assert body["user_id"] == 1


def test_a_refresh_kills_the_used_pair_and_the_new_one_works(sandbox, installed):
    new = refresh(sandbox, installed.refresh).json()

    old_call = installed.call("profile")
    new_call = installed.call("profile", auth=new["access_token"])

    assert old_call.status_code == 401
    assert old_call.json()["error"] == "expired_token"
    assert new_call.json()["result"]["ID"] == "1"


def test_reusing_a_refresh_token_is_invalid_grant(sandbox, installed):
    refresh(sandbox, installed.refresh)
    again = refresh(sandbox, installed.refresh)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_two_concurrent_refreshes_with_one_token_leave_exactly_one_winner(
    sandbox, installed
):
    answers = []

    def worker():
        answers.append(refresh(sandbox, installed.refresh))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 400, 400, 400]
    assert sandbox.counters(installed.portal.ref)["refresh_calls"] == 4


def test_a_wrong_secret_is_invalid_client(sandbox, installed):
    response = refresh(sandbox, installed.refresh, client_secret="nope")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


def test_an_unknown_client_id_is_wrong_client_with_http_200(sandbox, installed):
    response = refresh(sandbox, installed.refresh, client_id="app.unknown")
    assert response.status_code == 200
    assert response.json()["error"] == "wrong_client"


def test_payment_required_switch(sandbox, installed):
    sandbox.set_faults(installed.portal.ref, payment_required=True)
    response = refresh(sandbox, installed.refresh)
    assert response.json() == {
        "error": "PAYMENT_REQUIRED",
        "error_description": "Payment required",
    }


def test_an_html_502_from_the_auth_server_leaves_the_chain_intact(sandbox, installed):
    sandbox.set_faults(installed.portal.ref, oauth_html_502=1)
    first = refresh(sandbox, installed.refresh)
    second = refresh(sandbox, installed.refresh)

    assert first.status_code == 502
    assert first.headers["Content-Type"].startswith("text/html")
    assert second.status_code == 200


def test_lifetimes_are_configurable_and_expiry_follows_the_clock(sandbox, installed):
    sandbox.configure_portal(installed.portal.ref, access_ttl=60)
    fresh = refresh(sandbox, installed.refresh).json()
    assert fresh["expires_in"] == 60

    sandbox.advance_clock(61)
    response = installed.call("profile", auth=fresh["access_token"])
    assert response.json()["error"] == "expired_token"
    assert refresh(sandbox, fresh["refresh_token"]).status_code == 200


def test_the_authorization_code_grant_gives_tokens_of_that_user(sandbox, installed):
    code = sandbox.authorization_code(installed.portal.ref, user_id=3)
    params = {
        "grant_type": "authorization_code",
        "client_id": "local.test.app",
        "client_secret": "test-secret",
        "code": code,
    }
    first = requests.get(token_url(sandbox), params=params, timeout=10)
    second = requests.get(token_url(sandbox), params=params, timeout=10)

    assert first.json()["user_id"] == 3
    assert second.json()["error"] == "invalid_grant"


def test_an_authorization_code_lives_thirty_seconds(sandbox, installed):
    code = sandbox.authorization_code(installed.portal.ref, user_id=3)
    sandbox.advance_clock(31)
    params = {
        "grant_type": "authorization_code",
        "client_id": "local.test.app",
        "client_secret": "test-secret",
        "code": code,
    }
    response = requests.get(token_url(sandbox), params=params, timeout=10)
    assert response.json()["error"] == "invalid_grant"


def test_the_authorize_page_redirects_to_the_app_with_a_code(sandbox, installed, app):
    url = installed.portal.base_url + "/oauth/authorize/"
    response = requests.get(
        url,
        params={"client_id": "local.test.app", "state": "s1", "as": "3"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(app.url + "/b24/oauth/callback/?code=")
    assert "state=s1" in location
    assert f"member_id={installed.portal.member_id}" in location


def test_app_info_on_the_auth_server_validates_a_token(sandbox, installed):
    url = sandbox.base_url + "/oauth/rest/app.info"
    good = requests.get(url, params={"auth": installed.auth}, timeout=10).json()
    bad = requests.get(url, params={"auth": "nope"}, timeout=10)

    assert good["result"]["install"]["member_id"] == installed.portal.member_id
    assert good["result"]["client_id"] == "local.test.app"
    assert bad.status_code == 401


def test_uninstall_revokes_every_token(sandbox, installed):
    sandbox.uninstall(installed.portal.ref)
    assert installed.call("profile").status_code == 401
    assert refresh(sandbox, installed.refresh).json()["error"] == "invalid_grant"

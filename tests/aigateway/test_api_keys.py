import io

import requests
from django.core.management import call_command

from aigateway.keys import api_key_issue, api_key_revoke, key_digest
from aigateway.models import ApiKey
from tests.aigateway.conftest import ADMIN


def test_a_missing_or_wrong_key_is_401_and_reaches_no_model(gateway, stub):
    missing = gateway.ask("Привет", key="")
    wrong = gateway.ask("Привет", key="pdn_" + "x" * 43)
    basic = requests.post(
        gateway.url,
        json={"model": "assistant", "messages": [{"role": "user", "content": "x"}]},
        headers={"Authorization": f"Basic {gateway.key}"},
        timeout=10,
    )

    for response in (missing, wrong, basic):
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["type"] == "authentication_error"
        assert error["code"] == "invalid_api_key"
    assert stub.received == []


def test_a_revoked_key_stops_working_at_once(gateway, stub, portal):
    assert gateway.ask("Привет").status_code == 200
    key = ApiKey.objects.get(portal=portal)

    assert api_key_revoke(api_key=key, actor=ADMIN)
    response = gateway.ask("Привет")

    assert response.status_code == 401
    assert not api_key_revoke(api_key=key, actor=ADMIN)
    assert len(stub.received) == 1


def test_only_a_digest_of_the_key_is_stored(portal):
    issued, key = api_key_issue(portal=portal, label="bot", actor=ADMIN)

    row = ApiKey.objects.get(pk=issued.pk)
    assert key.startswith("pdn_")
    assert len(key) > 40
    assert row.key_hash == key_digest(key)
    assert key not in (row.key_hash, row.prefix)
    assert row.prefix == key[:12]


def test_using_a_key_records_when_it_was_last_used(gateway, stub, portal):
    assert ApiKey.objects.get(portal=portal).last_used_at is None

    gateway.ask("Привет")

    assert ApiKey.objects.get(portal=portal).last_used_at is not None


def test_an_uninstalled_portals_key_is_refused(gateway, stub, portal):
    portal.status = portal.Status.UNINSTALLED
    portal.save()

    response = gateway.ask("Привет")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "portal_inactive"


def test_the_command_prints_a_new_key_once_and_revokes_it_by_prefix(
    gateway, stub, portal
):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "aigateway_key",
        "issue",
        portal.member_id,
        "--label",
        "cli",
        stdout=out,
        stderr=err,
    )
    key = out.getvalue().strip()

    assert gateway.ask("Привет", key=key).status_code == 200
    assert key not in err.getvalue()

    listing = io.StringIO()
    call_command("aigateway_key", "list", portal.member_id, stdout=listing)
    assert key[:12] in listing.getvalue()
    assert key not in listing.getvalue()

    call_command(
        "aigateway_key", "revoke", portal.member_id, key[:12], stdout=io.StringIO()
    )
    assert gateway.ask("Привет", key=key).status_code == 401

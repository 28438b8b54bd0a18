import io

from django.core.management import call_command

from aigateway.consent_gate import client_block, client_unblock, processing_allowed
from aigateway.models import BlockedClient, DialogMapping
from compliance.models import JournalEntry
from tests.aigateway.conftest import ADMIN

CONSENT_LEDGER = ADMIN


def test_a_client_who_withdrew_consent_stops_the_gateway(gateway, stub, portal):
    assert gateway.ask("Я Анна", client="lead:1043").status_code == 200

    client_block(portal=portal, client_ref="lead:1043", actor=CONSENT_LEDGER)
    response = gateway.ask("Я Анна", client="lead:1043")

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "consent_withdrawn"
    assert error["type"] == "permission_error"
    assert len(stub.received) == 1


def test_other_clients_of_the_portal_are_not_affected(gateway, stub, portal):
    client_block(portal=portal, client_ref="lead:1043", actor=CONSENT_LEDGER)

    assert gateway.ask("Привет", client="lead:1044").status_code == 200
    assert gateway.ask("Привет").status_code == 200


def test_the_client_may_come_through_openais_user_field(gateway, stub, portal):
    client_block(portal=portal, client_ref="lead:1043", actor=CONSENT_LEDGER)
    body = {
        "model": "assistant",
        "user": "lead:1043",
        "messages": [{"role": "user", "content": "Привет"}],
    }

    assert gateway.post(body).status_code == 403


def test_a_dialog_bound_to_a_blocked_client_is_blocked_without_the_header(
    gateway, stub, portal
):
    gateway.ask("Я Анна Смирнова", dialog="chat-9", client="lead:1043")
    client_block(portal=portal, client_ref="lead:1043", actor=CONSENT_LEDGER)

    response = gateway.ask("Продолжим", dialog="chat-9")

    assert response.status_code == 403
    assert len(stub.received) == 1


def test_a_dialog_cannot_be_borrowed_by_another_client(gateway, stub):
    gateway.ask("Я Анна Смирнова", dialog="chat-9", client="lead:1043")

    response = gateway.ask("Кто такая [ИМЯ_1]?", dialog="chat-9", client="lead:7")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "dialog_client_mismatch"
    assert len(stub.received) == 1


def test_blocking_empties_the_clients_dialog_mappings(gateway, stub, portal):
    gateway.ask("Я Анна Смирнова", dialog="chat-1", client="lead:1043")
    gateway.ask("Я Пётр Иванов", dialog="chat-2", client="lead:2000")

    client_block(portal=portal, client_ref="lead:1043", actor=CONSENT_LEDGER)

    rows = DialogMapping.objects.filter(portal=portal).order_by("dialog_id")
    assert [(r.dialog_id, bool(r.mapping_sealed)) for r in rows] == [
        ("chat-1", False),
        ("chat-2", True),
    ]


def test_blocking_is_idempotent_and_journaled_once(portal):
    assert client_block(portal=portal, client_ref="lead:1043", actor=CONSENT_LEDGER)
    assert not client_block(portal=portal, client_ref="lead:1043", actor=CONSENT_LEDGER)

    assert not processing_allowed(portal, "lead:1043")
    entries = JournalEntry.objects.filter(portal=portal, action="ai.client.blocked")
    assert [e.subject for e in entries] == ["lead#1043"]
    assert BlockedClient.objects.get(portal=portal).reason == "consent_withdrawn"


def test_a_new_consent_unblocks_the_client(gateway, stub, portal):
    client_block(portal=portal, client_ref="lead:1043", actor=CONSENT_LEDGER)

    assert client_unblock(portal=portal, client_ref="lead:1043", actor=CONSENT_LEDGER)

    assert processing_allowed(portal, "lead:1043")
    assert gateway.ask("Привет", client="lead:1043").status_code == 200


def test_a_block_on_one_portal_does_not_reach_another(portal, make_portal):
    other = make_portal()

    client_block(portal=portal, client_ref="lead:1043", actor=CONSENT_LEDGER)

    assert processing_allowed(other, "lead:1043")


def test_long_lead_ids_block_without_breaking_the_journal(portal):
    assert client_block(portal=portal, client_ref="lead:12345678", actor=ADMIN)

    assert not processing_allowed(portal, "lead:12345678")


def test_the_command_blocks_and_unblocks_a_client(portal):
    out = io.StringIO()

    call_command("aigateway_block", portal.member_id, "lead:5", stdout=out)
    assert not processing_allowed(portal, "lead:5")
    call_command("aigateway_block", portal.member_id, "lead:5", "--unblock", stdout=out)

    assert processing_allowed(portal, "lead:5")
    assert out.getvalue().splitlines() == ["lead:5: blocked", "lead:5: unblocked"]

import io
import threading
from datetime import timedelta

from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from aigateway.dialogs import dialogs_purge
from aigateway.models import DialogMapping
from aigateway.rotation import reseal_dialog_mappings
from aigateway.tasks import dialogs_purge_task
from compliance.models import JournalEntry
from pii import Mapping
from tests.aigateway.conftest import answer_text

NAME = "Анна Смирнова"
PHONE = "+7 912 345-67-89"


def test_the_mapping_is_stored_encrypted(gateway, stub, portal):
    gateway.ask(f"Я {NAME}, мой телефон {PHONE}", dialog="chat-1")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM aigateway_dialogmapping WHERE dialog_id = %s", ["chat-1"]
        )
        raw = " ".join(str(value) for value in cursor.fetchone())
    for value in [NAME, "Анна", "Смирнова", PHONE, "79123456789", "345-67-89"]:
        assert value not in raw
    row = DialogMapping.objects.get(portal=portal, dialog_id="chat-1")
    assert row.mapping_sealed.startswith("v1:")
    assert Mapping.from_json(row.mapping_json()).placeholders() == {
        "[ИМЯ_1]": [NAME],
        "[ТЕЛЕФОН_1]": [PHONE],
    }


def test_the_mapping_expires_a_day_after_the_last_request(gateway, stub, portal):
    before = timezone.now()

    gateway.ask(f"Я {NAME}", dialog="chat-1")

    row = DialogMapping.objects.get(portal=portal, dialog_id="chat-1")
    assert before + timedelta(hours=24) <= row.expires_at
    assert row.expires_at <= timezone.now() + timedelta(hours=24)


def test_the_lifetime_is_configurable(gateway, stub, portal):
    with override_settings(AIGATEWAY_DIALOG_TTL_HOURS=2):
        gateway.ask(f"Я {NAME}", dialog="chat-1")

    row = DialogMapping.objects.get(portal=portal, dialog_id="chat-1")
    assert row.expires_at <= timezone.now() + timedelta(hours=2)


def test_an_expired_dialog_restores_nothing_of_its_past(gateway, stub, portal):
    gateway.ask(f"Я {NAME}", dialog="chat-1", client="lead:1043")
    DialogMapping.objects.filter(portal=portal).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    answer = answer_text(gateway.ask("Кто?", model="assistant-recall", dialog="chat-1"))

    assert answer == "Ранее: [ИМЯ_1]."
    row = DialogMapping.objects.get(portal=portal, dialog_id="chat-1")
    assert row.expires_at > timezone.now()
    assert row.client_ref == ""


def test_the_purge_deletes_expired_mappings_only_and_journals_counts(
    gateway, stub, portal
):
    for dialog in ["old-1", "old-2", "live"]:
        gateway.ask(f"Я {NAME}", dialog=dialog)
    DialogMapping.objects.filter(dialog_id__startswith="old").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert dialogs_purge(dry_run=True) == 2
    assert dialogs_purge(batch=1) == 2
    assert dialogs_purge_task() == 0

    assert list(DialogMapping.objects.values_list("dialog_id", flat=True)) == ["live"]
    entries = JournalEntry.objects.filter(portal=portal, action="ai.dialog.purged")
    assert sorted(e.details for e in entries) == [
        '{"mappings_deleted":1}',
        '{"mappings_deleted":1}',
    ]


def test_the_purge_command_reports_a_dry_run(gateway, stub, portal):
    gateway.ask(f"Я {NAME}", dialog="old")
    DialogMapping.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    out = io.StringIO()

    call_command("aigateway_purge", "--dry-run", stdout=out)
    call_command("aigateway_purge", stdout=out)

    assert out.getvalue().splitlines() == [
        "aigateway_purge: would delete 1 expired dialog mappings",
        "aigateway_purge: deleted 1 expired dialog mappings",
    ]
    assert not DialogMapping.objects.exists()


def test_concurrent_requests_in_one_dialog_lose_no_placeholders(gateway, stub, portal):
    phones = [f"+7 912 345-67-{n:02d}" for n in range(10, 18)]
    answers: dict[str, str] = {}

    def ask(phone):
        answers[phone] = answer_text(gateway.ask(f"Мой номер {phone}", dialog="busy"))

    threads = [threading.Thread(target=ask, args=(p,)) for p in phones]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert answers == {p: f"Мой номер {p}" for p in phones}
    row = DialogMapping.objects.get(portal=portal, dialog_id="busy")
    stored = Mapping.from_json(row.mapping_json()).placeholders()
    assert sorted(stored) == sorted(f"[ТЕЛЕФОН_{n}]" for n in range(1, 9))
    assert sorted(v for values in stored.values() for v in values) == sorted(phones)
    sent = [r["body"]["messages"][0]["content"] for r in stub.received]
    assert len(set(sent)) == len(phones)


def test_mappings_are_resealed_when_the_master_key_rotates(gateway, stub, portal):
    gateway.ask(f"Я {NAME}", dialog="chat-1")
    new_keys = "2:bmV3LW1hc3Rlci1rZXktZm9yLXJvdGF0aW9uLXRlc3Q=,1:" + (
        "cGRuLWd1YXJkLWRldmVsb3BtZW50LW1hc3Rlci1rZXk="
    )

    with override_settings(PDN_MASTER_KEYS=new_keys):
        assert reseal_dialog_mappings(portal, True) == 1
        assert reseal_dialog_mappings(portal, False) == 1
        row = DialogMapping.objects.get(portal=portal, dialog_id="chat-1")
        assert row.mapping_sealed.startswith("v2:")
        assert NAME in row.mapping_json()

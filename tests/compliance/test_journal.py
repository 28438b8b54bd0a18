import json
import threading

import pytest
from django.db import DatabaseError, connection, transaction

from compliance import chain, vault
from compliance.journal import (
    Actor,
    JournalError,
    checkpoint_make,
    journal_entries,
    journal_record,
    subject_lead,
    subject_phone,
    verify_chain,
)
from compliance.models import AppendOnlyError, JournalCheckpoint, JournalEntry

pytestmark = pytest.mark.django_db

MANAGER = Actor.user(17, "revealer")
AUDITOR = Actor.user(5, "auditor")


def write(portal, n=5):
    for i in range(n):
        journal_record(
            portal=portal,
            action="lead.phone.revealed",
            actor=MANAGER,
            subject=subject_lead(1040 + i),
            details={"reason": "callback", "channel": "lead_tab"},
        )


TAMPER = pytest.mark.django_db(transaction=True)


def raw(sql, params=(), table="compliance_journalentry"):
    """Change the table as someone with direct database access would.

    Tests that tamper commit as they go (``TAMPER``): PostgreSQL will not
    alter a table with foreign-key checks still pending in a transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def test_entries_form_a_gapless_chain_from_the_genesis_hash(portal):
    write(portal, 3)

    entries = list(JournalEntry.objects.filter(portal=portal).order_by("seq"))

    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == chain.GENESIS_HASH
    assert entries[1].prev_hash == entries[0].entry_hash
    assert verify_chain(portal).ok
    assert verify_chain(portal).entries == 3


def test_each_portal_has_its_own_chain(portal, make_portal):
    other = make_portal()
    write(portal, 2)
    write(other, 3)

    assert verify_chain(portal).entries == 2
    assert verify_chain(other).entries == 3
    assert JournalEntry.objects.get(portal=other, seq=1).prev_hash == (
        chain.GENESIS_HASH
    )


def test_the_fast_canonical_form_equals_the_reference_definition(portal):
    journal_record(
        portal=portal,
        action="settings.changed",
        actor=Actor.system(),
        details={"phone_mode": "masked", "months": 6, "on": True, "ids": [1, 2]},
    )
    entry = JournalEntry.objects.get(portal=portal)
    payload = {
        "action": entry.action,
        "actor": {"kind": "system", "role": "system", "user_id": None},
        "at": chain.format_at(entry.at),
        "details": {"phone_mode": "masked", "months": 6, "on": True, "ids": [1, 2]},
        "portal": "m-001",
        "prev_hash": chain.GENESIS_HASH,
        "seq": 1,
        "subject": "",
        "v": 1,
    }

    assert chain.entry_hash(chain.canonical_payload(payload)) == entry.entry_hash


def test_a_failed_action_leaves_no_entry_and_a_failed_entry_no_action(portal):
    with pytest.raises(RuntimeError), transaction.atomic():
        write(portal, 1)
        raise RuntimeError("the reveal failed after journaling")

    assert not JournalEntry.objects.filter(portal=portal).exists()
    assert verify_chain(portal).ok


FORBIDDEN = ["Смирнова", "9001234567", "1234567", "9007654321", "234567"]


@pytest.mark.parametrize(
    "details",
    [
        {"name": "Анна Смирнова"},
        {"phone": "+79001234567"},
        {"phone": "8 (900) 123-45-67"},
        {"phone": "900-765-43-21"},
        {"tail": "234567"},
        {"masked": "******234567"},
        {"disguised": "9001-23-45"},
        {"number": 79001234567},
        {"old": ["ph1:" + "a" * 64, "+79007654321"]},
        {"Name": "x"},
        {"text": "called the client back"},
        {"nested": {"phone": "x"}},
    ],
)
def test_details_that_could_hold_personal_data_are_refused(portal, details):
    with pytest.raises(JournalError) as caught:
        journal_record(
            portal=portal, action="lead.phone.changed", actor=MANAGER, details=details
        )

    assert not any(word in str(caught.value) for word in FORBIDDEN)
    assert not JournalEntry.objects.exists()


@pytest.mark.parametrize(
    "subject", ["Анна Смирнова", "phone:+79001234567", "lead#9001234567", "lead 1043"]
)
def test_subjects_other_than_ids_and_pseudonyms_are_refused(portal, subject):
    with pytest.raises(JournalError):
        journal_record(
            portal=portal, action="lead.viewed", actor=MANAGER, subject=subject
        )


def test_the_lead_1043_story_leaves_no_personal_data_in_the_journal(portal):
    old = vault.pseudonym(portal, "+79001234567")
    new = vault.pseudonym(portal, "+79007654321")
    lead = subject_lead(1043)
    journal_record(
        portal=portal,
        action="lead.phone.revealed",
        actor=MANAGER,
        subject=lead,
        details={"phone": old, "reason": "callback", "at": "2026-12-03t10:00:00z"},
    )
    journal_record(
        portal=portal,
        action="lead.phone.changed",
        actor=MANAGER,
        subject=lead,
        details={"old": old, "new": new},
    )
    journal_record(
        portal=portal,
        action="consent.withdrawn",
        actor=Actor.system(),
        subject=lead,
        details={"channel": "openline"},
    )
    journal_record(
        portal=portal,
        action="retention.destroyed",
        actor=Actor.system(),
        subject=subject_phone(new),
        details={"act": "act#12"},
    )

    dump = "\n".join(
        str(row)
        for row in JournalEntry.objects.values_list(
            "action", "subject", "details", "actor_role"
        )
    )
    assert not any(word in dump for word in FORBIDDEN)
    assert "lead#1043" in dump and old in dump


def test_the_model_refuses_to_change_or_delete_an_entry(portal):
    write(portal, 1)
    entry = JournalEntry.objects.get(portal=portal)
    entry.action = "lead.viewed"

    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()


def test_bulk_changes_through_the_orm_are_refused_too(portal):
    write(portal, 2)
    checkpoint_make(portal=portal)

    with pytest.raises(AppendOnlyError):
        JournalEntry.objects.filter(portal=portal).update(action="lead.viewed")
    with pytest.raises(AppendOnlyError):
        JournalEntry.objects.filter(portal=portal).delete()
    with pytest.raises(AppendOnlyError):
        JournalCheckpoint.objects.all().delete()

    assert verify_chain(portal).ok


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE compliance_journalentry SET action = 'lead.viewed'",
        "DELETE FROM compliance_journalentry",
        "TRUNCATE compliance_journalentry CASCADE",
        "UPDATE compliance_journalcheckpoint SET seq = 1",
        "TRUNCATE compliance_journalcheckpoint",
    ],
)
def test_postgresql_refuses_to_change_the_journal(portal, sql):
    write(portal, 2)
    checkpoint_make(portal=portal)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # Deferred foreign-key checks would refuse TRUNCATE on their own.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL pdn_guard.allow_journal_truncate = 'off'")
        cursor.execute(sql)

    assert JournalEntry.objects.filter(portal=portal).count() == 2


@TAMPER
def test_an_edited_entry_is_named(portal):
    write(portal, 5)
    raw(
        "UPDATE compliance_journalentry SET subject = 'lead#1' "
        "WHERE portal_id = %s AND seq = 3",
        [portal.pk],
    )

    result = verify_chain(portal)

    assert not result.ok
    assert result.first_broken_seq == 3
    assert "differs" in result.reason


@TAMPER
def test_an_edited_entry_with_a_recomputed_hash_breaks_the_next_link(portal):
    write(portal, 5)
    raw(
        "UPDATE compliance_journalentry SET entry_hash = %s "
        "WHERE portal_id = %s AND seq = 2",
        ["f" * 64, portal.pk],
    )

    result = verify_chain(portal)

    assert (result.ok, result.first_broken_seq) == (False, 2)


@TAMPER
def test_a_deleted_entry_is_named_as_missing(portal):
    write(portal, 5)
    raw(
        "DELETE FROM compliance_journalentry WHERE portal_id = %s AND seq = 4",
        [portal.pk],
    )

    result = verify_chain(portal)

    assert (result.ok, result.first_broken_seq) == (False, 4)
    assert "missing" in result.reason


@TAMPER
def test_deleted_last_entries_are_noticed_through_the_head(portal):
    write(portal, 5)
    raw(
        "DELETE FROM compliance_journalentry WHERE portal_id = %s AND seq >= 4",
        [portal.pk],
    )

    result = verify_chain(portal)

    assert (result.ok, result.first_broken_seq, result.entries) == (False, 4, 3)


@TAMPER
def test_reordered_entries_are_named(portal):
    write(portal, 5)
    move = (
        "UPDATE compliance_journalentry SET seq = %s WHERE portal_id = %s AND seq = %s"
    )
    raw(move, [-2, portal.pk, 2])
    raw(move, [2, portal.pk, 3])
    raw(move, [3, portal.pk, -2])

    result = verify_chain(portal)

    assert (result.ok, result.first_broken_seq) == (False, 2)


@TAMPER
def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(portal):
    """An attacker who recomputes every hash after an edit still cannot re-sign."""
    write(portal, 4)
    checkpoint = checkpoint_make(portal=portal)
    assert checkpoint is not None and checkpoint.seq == 4

    entries = list(JournalEntry.objects.filter(portal=portal).order_by("seq"))
    prev = entries[1].entry_hash
    for entry in entries[2:]:
        subject = "lead#1" if entry.seq == 3 else entry.subject
        canonical = chain.canonical_entry(
            portal=portal.member_id,
            seq=entry.seq,
            at=chain.format_at(entry.at),
            action=entry.action,
            actor_kind=entry.actor_kind,
            actor_user_id=entry.actor_user_id,
            actor_role=entry.actor_role,
            subject=subject,
            details_json=entry.details,
            prev_hash=prev,
        )
        prev = chain.entry_hash(canonical)
        raw(
            "UPDATE compliance_journalentry SET subject = %s, prev_hash = %s, "
            "entry_hash = %s WHERE portal_id = %s AND seq = %s",
            [
                subject,
                canonical.decode().split('"prev_hash":"')[1][:64],
                prev,
                portal.pk,
                entry.seq,
            ],
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE compliance_journalhead SET last_hash = %s WHERE portal_id = %s",
            [prev, portal.pk],
        )

    result = verify_chain(portal)

    assert (result.ok, result.first_broken_seq) == (False, 4)
    assert "checkpoint" in result.reason


@TAMPER
def test_a_forged_checkpoint_signature_is_named(portal):
    write(portal, 2)
    checkpoint_make(portal=portal)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE compliance_journalcheckpoint DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE compliance_journalcheckpoint SET signature = %s", ["A" * 88]
        )

    result = verify_chain(portal)

    assert (result.ok, result.first_broken_seq) == (False, 2)
    assert "signature" in result.reason


def test_a_checkpoint_is_made_once_per_head(portal):
    write(portal, 2)

    assert checkpoint_make(portal=portal) is not None
    assert checkpoint_make(portal=portal) is None
    write(portal, 1)
    third = checkpoint_make(portal=portal)
    assert third is not None and third.seq == 3
    assert verify_chain(portal).checkpoints == 2


def test_the_selector_filters_by_period_user_lead_and_action(portal):
    write(portal, 3)
    journal_record(portal=portal, action="journal.exported", actor=AUDITOR)

    assert journal_entries(portal=portal, lead_id=1041).count() == 1
    assert journal_entries(portal=portal, user_id=5).count() == 1
    assert journal_entries(portal=portal, action="lead.*").count() == 3
    assert journal_entries(portal=portal, action="journal.exported").count() == 1
    last = JournalEntry.objects.get(portal=portal, seq=4)
    assert journal_entries(portal=portal, date_from=last.at).count() == 1
    assert journal_entries(portal=portal, date_to=last.at).count() == 3


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_leave_a_gapless_valid_chain(make_portal):
    portal = make_portal()
    errors = []
    barrier = threading.Barrier(8)

    def writer(n):
        try:
            barrier.wait()
            for i in range(25):
                with transaction.atomic():
                    journal_record(
                        portal=portal,
                        action="lead.viewed",
                        actor=Actor.user(n + 1, "manager"),
                        subject=subject_lead(i + 1),
                    )
        except Exception as exc:  # reported below, with the thread's number
            errors.append((n, exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    seqs = list(
        JournalEntry.objects.filter(portal=portal)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert seqs == list(range(1, 201))
    assert verify_chain(portal).ok


def test_every_labelled_action_code_is_accepted(portal):
    from compliance.journal import ACTION_LABELS

    for action in ACTION_LABELS:
        journal_record(portal=portal, action=action, actor=Actor.system())

    assert verify_chain(portal).entries == len(ACTION_LABELS)


def test_a_portal_id_with_unusual_characters_takes_the_python_path(make_portal):
    """The one-statement append builds JSON by concatenation, for plain ids only."""
    portal = make_portal('m-"quoted"\\id')
    write(portal, 3)

    entry = JournalEntry.objects.get(portal=portal, seq=2)
    payload = json.loads(
        chain.canonical_entry(
            portal=portal.member_id,
            seq=2,
            at=chain.format_at(entry.at),
            action=entry.action,
            actor_kind=entry.actor_kind,
            actor_user_id=entry.actor_user_id,
            actor_role=entry.actor_role,
            subject=entry.subject,
            details_json=entry.details,
            prev_hash=entry.prev_hash,
        )
    )
    assert payload["portal"] == 'm-"quoted"\\id'
    assert verify_chain(portal).ok


def test_both_append_paths_write_one_chain(portal, monkeypatch):
    """The database builds the same canonical bytes as chain.canonical_entry."""
    import re

    from compliance import journal

    write(portal, 2)
    monkeypatch.setattr(journal, "PLAIN_RE", re.compile(r"(?!)"))
    write(portal, 2)
    monkeypatch.undo()
    write(portal, 2)

    result = verify_chain(portal)
    assert (result.ok, result.entries) == (True, 6)


def test_a_lead_with_a_long_bitrix24_id_is_journaled_by_that_id(portal):
    entry = journal_record(
        portal=portal,
        action="lead.phone.revealed",
        actor=MANAGER,
        subject=subject_lead(12345678),
        details={"lead": "lead#12345678"},
    )

    assert entry.subject == "lead#12345678"


@pytest.mark.parametrize("subject", ["phone#79001234567", "lead#79001234567890"])
def test_a_long_number_is_still_refused_outside_an_entity_reference(portal, subject):
    with pytest.raises(JournalError):
        journal_record(
            portal=portal,
            action="lead.phone.revealed",
            actor=MANAGER,
            subject=subject,
        )

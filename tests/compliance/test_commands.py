import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from b24app.celery import app
from compliance import roles
from compliance.journal import Actor, journal_record, verify_chain
from compliance.models import ApiToken, JournalCheckpoint
from compliance.tasks import journal_checkpoint_all

pytestmark = pytest.mark.django_db


def write(portal, n):
    for _ in range(n):
        journal_record(portal=portal, action="lead.viewed", actor=Actor.user(3, "r"))


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_journal_verify_reports_a_sound_journal(portal):
    write(portal, 3)

    assert "journal OK: 3 entries" in run("journal_verify", "m-001")


@pytest.mark.django_db(transaction=True)
def test_journal_verify_names_the_first_broken_entry(portal):
    write(portal, 4)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE compliance_journalentry DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM compliance_journalentry WHERE seq = 2")
        cursor.execute("ALTER TABLE compliance_journalentry ENABLE TRIGGER USER")

    with pytest.raises(CommandError, match="BROKEN at entry 2"):
        run("journal_verify", "m-001")


def test_journal_verify_refuses_an_unknown_portal(portal):
    with pytest.raises(CommandError, match="no portal"):
        run("journal_verify", "m-404")


def test_the_hourly_task_signs_only_journals_that_grew(portal, make_portal):
    quiet = make_portal()
    write(portal, 2)
    write(quiet, 1)

    assert journal_checkpoint_all() == 2
    write(portal, 1)
    assert journal_checkpoint_all() == 1
    assert journal_checkpoint_all() == 0
    assert JournalCheckpoint.objects.filter(portal=portal).count() == 2
    assert verify_chain(portal).checkpoints == 2


def test_the_beat_schedule_runs_checkpoints_hourly():
    entry = app.conf.beat_schedule["journal-checkpoints-hourly"]

    assert entry["task"] == journal_checkpoint_all.name
    assert entry["task"] in app.tasks
    assert entry["schedule"].minute == {7}


def test_an_api_token_is_printed_once_and_stored_hashed(portal):
    roles.role_assign(
        portal=portal, b24_user_id=5, role="auditor", actor=Actor.user(1, "admin")
    )

    token = run("journal_api_token", "m-001", "5").strip()

    stored = ApiToken.objects.get(portal=portal)
    assert token.startswith("pdn_")
    assert stored.key_hash == roles.token_digest(token)
    assert token not in stored.prefix + stored.key_hash


def test_no_api_token_for_a_user_without_a_journal_role(portal):
    with pytest.raises(CommandError, match="neither"):
        run("journal_api_token", "m-001", "17")


def test_journal_export_writes_a_bundle_that_verifies(portal, tmp_path):
    from compliance.offline_verify import verify_bundle

    write(portal, 3)
    path = tmp_path / "bundle.zip"

    output = run("journal_export", "m-001", str(path), "--user", "3")

    assert "3 entries" in output
    assert verify_bundle(str(path)).ok

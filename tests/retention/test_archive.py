"""Archives during the grace period, and deletes that fail part of a batch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from compliance.journal import journal_entries
from compliance.retention.archive import ArchiveError, archive_open, archive_restore
from compliance.retention.models import (
    ArchivedLead,
    ArchiveKey,
    RetentionNotice,
    RetentionRun,
    RunLead,
)
from compliance.retention.run import (
    archive_group,
    delete_group,
    run_begin,
    run_step,
)
from integrator.rest import portal_client
from tests.retention.conftest import ADMIN_USER, Clinic

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])
TODAY = date.today()
ANNA = {
    "NAME": "Анна",
    "LAST_NAME": "Смирнова",
    "SOURCE_ID": "WEB",
    "PHONE": [{"VALUE": "+79001234567", "VALUE_TYPE": "MOBILE"}],
    "COMMENTS": "Хочу на окрашивание",
}


def with_grace(clinic: Clinic, days: int = 30) -> None:
    clinic.policy.grace_days = days
    clinic.policy.save()


def run_day(clinic: Clinic, day: date, now: datetime | None = None) -> RetentionRun:
    run = run_begin(portal=clinic.portal, run_date=day, now=now)
    assert run is not None
    while run_step(run_id=run.pk, now=now).more:
        pass
    run.refresh_from_db()
    return run


def test_a_restore_during_the_grace_brings_the_lead_back_with_its_comments(clinic):
    with_grace(clinic)
    (lead_id,) = clinic.leads(1, **ANNA)
    portal_client(clinic.portal).call(
        "crm.timeline.comment.add",
        {
            "fields": {
                "ENTITY_ID": lead_id,
                "ENTITY_TYPE": "lead",
                "COMMENT": "Перезвонить",
            }
        },
    )

    run_day(clinic, TODAY)
    assert not clinic.exists(lead_id)
    archived = ArchivedLead.objects.get(portal=clinic.portal, lead_id=lead_id)
    assert archived.comment_count == 1 and archived.restorable

    new_id = archive_restore(archived_id=archived.pk, user_id=ADMIN_USER)

    lead = clinic.sandbox.lead(clinic.ref, new_id)
    assert (lead["NAME"], lead["LAST_NAME"], lead["SOURCE_ID"]) == (
        "Анна",
        "Смирнова",
        "WEB",
    )
    assert lead["PHONE"][0]["VALUE"] == "+79001234567"
    comments = portal_client(clinic.portal).call(
        "crm.timeline.comment.list",
        {"filter": {"ENTITY_ID": new_id, "ENTITY_TYPE": "lead"}},
    )
    assert [c["COMMENT"] for c in comments] == ["Перезвонить"]
    archived.refresh_from_db()
    assert archived.restored_lead_id == new_id
    assert RunLead.objects.get(pk=archived.run_lead_id).state == RunLead.State.RESTORED
    assert archive_restore(archived_id=archived.pk, user_id=ADMIN_USER) == new_id
    assert clinic.sandbox.lead_count(clinic.ref) == 1
    restored = journal_entries(portal=clinic.portal, action="retention.lead.restored")
    assert [e.subject for e in restored] == [f"lead#{lead_id}"]


def test_the_archive_is_destroyed_by_the_first_run_after_the_grace(clinic):
    with_grace(clinic, days=30)
    (lead_id,) = clinic.leads(1, **ANNA)

    first = run_day(clinic, TODAY)
    row = RunLead.objects.get(run=first, lead_id=lead_id)
    assert row.state == RunLead.State.CONFIRMED
    assert archive_open(row.archive)["lead"]["LAST_NAME"] == "Смирнова"
    assert not hasattr(first, "act")

    later = datetime.now(UTC) + timedelta(days=31)
    second = run_day(clinic, TODAY + timedelta(days=31), now=later)

    row.refresh_from_db()
    assert row.state == RunLead.State.PURGED and row.purged_run_id == second.pk
    assert ArchiveKey.objects.filter(portal=clinic.portal).count() == 0
    with pytest.raises(ArchiveError):
        archive_open(ArchivedLead.objects.get(run_lead=row))
    assert second.act.destroyed_count == 1


def test_a_partial_batch_deletes_what_it_can_and_retries_the_rest(clinic):
    # The integrator user sees only its own leads; two are handed to someone
    # else after archiving (ACCESS_DENIED), one is deleted by a person
    # meanwhile (NOT_FOUND: already done).
    sandbox, ref = clinic.sandbox, clinic.ref
    own = sandbox.add_user(ref, name="Интегратор", crm_access="own")
    grant = sandbox.issue_tokens(ref, user_id=own)
    clinic.portal.set_tokens(
        access=grant["access_token"], refresh=grant["refresh_token"]
    )
    clinic.portal.save()
    ids = clinic.leads(5, ASSIGNED_BY_ID=own)

    run = run_begin(portal=clinic.portal, run_date=TODAY)
    assert run is not None
    client = portal_client(clinic.portal)
    assert archive_group(run, client, datetime.now(UTC)) == 5
    denied, gone = ids[1:3], ids[3]
    for lead_id in denied:
        sandbox.update_lead(ref, lead_id, {"ASSIGNED_BY_ID": 1})
    sandbox.delete_lead(ref, gone)

    delete_group(run, client)

    states = dict(RunLead.objects.filter(run=run).values_list("lead_id", "state"))
    assert [states[i] for i in ids] == [
        RunLead.State.CONFIRMED,
        RunLead.State.ARCHIVED,
        RunLead.State.ARCHIVED,
        RunLead.State.CONFIRMED,
        RunLead.State.CONFIRMED,
    ]
    refused = RunLead.objects.filter(run=run, lead_id__in=denied)
    assert [(r.attempts, r.last_error) for r in refused] == [
        (1, "PermissionDenied"),
        (1, "PermissionDenied"),
    ]

    while run_step(run_id=run.pk).more:
        pass
    run.refresh_from_db()

    assert run.status == RetentionRun.Status.PARTIAL
    assert all(clinic.exists(lead_id) for lead_id in denied)
    failed = RunLead.objects.filter(run=run, state=RunLead.State.FAILED)
    assert sorted(failed.values_list("lead_id", flat=True)) == sorted(denied)
    assert all(row.attempts == 3 for row in failed)
    flagged = RetentionNotice.objects.filter(
        portal=clinic.portal, kind=RetentionNotice.Kind.FAILED
    )
    assert sorted(flagged.values_list("lead_id", flat=True)) == sorted(denied)
    assert run.act.destroyed_count == 3


def test_the_next_days_run_destroys_only_what_fell_due_since(clinic):
    (lead_id,) = clinic.leads(1)
    first = run_day(clinic, TODAY)
    assert first.status == RetentionRun.Status.DONE

    (other,) = clinic.leads(1)
    second = run_day(clinic, TODAY + timedelta(days=1))

    assert second.status == RetentionRun.Status.DONE
    assert not clinic.exists(other)
    assert not RunLead.objects.filter(run=second, lead_id=lead_id).exists()


def test_a_blocked_delete_method_pauses_the_group_and_fails_no_lead(clinic):
    from integrator import errors

    clinic.leads(3)
    run = run_begin(portal=clinic.portal, run_date=TODAY)
    assert run is not None
    client = portal_client(clinic.portal)
    assert archive_group(run, client, datetime.now(UTC)) == 3
    clinic.sandbox.set_faults(clinic.ref, block_methods=["crm.lead.delete"])

    with pytest.raises(errors.MethodBlocked):
        delete_group(run, client)

    rows = RunLead.objects.filter(run=run)
    assert {(r.state, r.attempts) for r in rows} == {(RunLead.State.ARCHIVED, 0)}
    assert clinic.sandbox.lead_count(clinic.ref) == 3

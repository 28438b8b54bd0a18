"""The daily retention run of one portal: plan, archive, delete, confirm, purge.

1. ``run_begin`` makes the day's ``RetentionRun`` (unique per portal and date,
   planned under a Redis lock), lists the candidates with ``>ID`` paging, and
   records each due lead as ``planned``, each lead due soon as a notice and
   each due medical record as a flag.
2. ``run_step`` does at most ``budget`` leads and says whether work is left.
   Every group of leads is taken with ``SELECT … FOR UPDATE SKIP LOCKED``, so
   two workers never hold the same lead, and a killed worker's locks go with
   its connection. A group is one batch of reads (fields, phones, timeline
   comments) and one batch of deletes ending with a list of the same IDs that
   confirms what is gone. A delete that reached Bitrix24 but not our database
   is sent again and answers NOT_FOUND, which counts as done.
3. Archives whose grace ended are destroyed (key deleted); the run that
   destroys them issues the act.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from b24app import crypto
from compliance import vault
from compliance.journal import Actor, journal_record, subject_lead
from compliance.retention import archive
from compliance.retention.models import (
    ArchivedLead,
    ArchiveKey,
    RetentionNotice,
    RetentionRun,
    RunLead,
)
from compliance.retention.policy import (
    LEAD_SELECT,
    UNCONVERTED,
    WITHDRAWN,
    PortalRules,
    Verdict,
    add_months,
)
from integrator import errors
from integrator.models import Portal
from integrator.pacing import redis_client
from integrator.rest import Client, portal_client

logger = logging.getLogger(__name__)

GROUP = 49  # 49 reads or deletes + 1 list = one batch of 50 commands
MAX_ATTEMPTS = 3
STEP_SECONDS = 90.0
ACTOR = Actor.system("retention")
FULL_SELECT = ["*", "UF_*", "PHONE", "EMAIL", "IM", "WEB"]
State = RunLead.State


def lock_ttl() -> int:
    """Seconds a dead worker's lock outlives it.

    Longer than a request may take (65 s read timeout), so a resumed worker
    never re-sends a group while the dead one's batch may still be running on
    the portal.
    """
    return int(getattr(settings, "PDN_RETENTION_LOCK_TTL", 150))


# --- locks ------------------------------------------------------------------------

_local_locks: dict[str, threading.Lock] = {}


class RunLock:
    """A Redis lock with a TTL, so a crashed holder's lock expires."""

    def __init__(self, name: str, ttl: int | None = None) -> None:
        self.name = f"pdn:retention:{name}"
        self.ttl = ttl or lock_ttl()
        self.token = uuid.uuid4().hex
        self.held = False

    def acquire(self) -> bool:
        if not settings.REDIS_URL:
            lock = _local_locks.setdefault(self.name, threading.Lock())
            self.held = lock.acquire(blocking=False)
            return self.held
        client = redis_client(settings.REDIS_URL)
        self.held = bool(client.set(self.name, self.token, nx=True, ex=self.ttl))
        return self.held

    def extend(self) -> None:
        if self.held and settings.REDIS_URL:
            client = redis_client(settings.REDIS_URL)
            # Only our own lock: after expiry another worker may hold it.
            if client.get(self.name) == self.token.encode():
                client.expire(self.name, self.ttl)

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if not settings.REDIS_URL:
            _local_locks[self.name].release()
            return
        client = redis_client(settings.REDIS_URL)
        client.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then"
            " return redis.call('del', KEYS[1]) end return 0",
            1,
            self.name,
            self.token,
        )

    def remaining(self) -> float:
        if not settings.REDIS_URL:
            return 1.0
        ttl = redis_client(settings.REDIS_URL).pttl(self.name)
        return max(int(ttl), 0) / 1000.0


@contextlib.contextmanager
def run_lock(name: str) -> Iterator[RunLock | None]:
    lock = RunLock(name)
    if not lock.acquire():
        yield None
        return
    try:
        yield lock
    finally:
        lock.release()


# --- planning -----------------------------------------------------------------------


def b24_time(moment: datetime) -> str:
    return moment.astimezone(timezone.get_default_timezone()).isoformat(
        timespec="seconds"
    )


def candidates(
    client: Client, rules: PortalRules, now: datetime
) -> Iterator[dict[str, Any]]:
    """Lead rows that may fall due within the notice window, each once.

    Pages by ``>ID`` (deleting while reading skips nothing) over leads last
    modified before the earliest cutoff any class can have.
    """
    policy = rules.policy
    select = [*LEAD_SELECT, policy.medical_field]
    cutoff = rules.unconverted_cutoff(now)
    notice = timedelta(days=policy.notice_days)
    for entry in rules.classes:
        cutoff = max(cutoff, now + notice - timedelta(days=entry.period_days))
    seen: set[int] = set()
    for row in client.iterate(
        "crm.lead.list",
        filter={"<DATE_MODIFY": b24_time(cutoff), "!STATUS_ID": "CONVERTED"},
        select=select,
    ):
        seen.add(int(row["ID"]))
        yield row
    withdrawn = sorted(set(rules.withdrawn) - seen)
    for start in range(0, len(withdrawn), 50):
        chunk = withdrawn[start : start + 50]
        yield from client.iterate(
            "crm.lead.list", filter={"@ID": chunk}, select=select, pages_per_request=1
        )


@dataclass
class Preview:
    """What a run would do today, lead by lead, and why."""

    destroy: list[Verdict] = field(default_factory=list)
    notice: list[Verdict] = field(default_factory=list)
    flag: list[Verdict] = field(default_factory=list)
    hold: list[Verdict] = field(default_factory=list)
    purge: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"destroy={len(self.destroy)} notice={len(self.notice)} "
            f"medical={len(self.flag)} held={len(self.hold)} purge={len(self.purge)}"
        )


def run_preview(*, portal: Portal, now: datetime | None = None) -> Preview:
    """A dry run: reads Bitrix24 and the database, writes nothing."""
    now = now or timezone.now()
    rules = PortalRules.load(portal)
    preview = Preview()
    for row in candidates(portal_client(portal), rules, now):
        verdict = rules.verdict(row, now)
        bucket = getattr(preview, verdict.action, None)
        if isinstance(bucket, list):
            bucket.append(verdict)
    due = RunLead.objects.filter(portal=portal, state=State.CONFIRMED)
    preview.purge = [r.lead_id for r in due if r.purge_due(now)]
    return preview


def run_begin(
    *, portal: Portal, run_date: date, now: datetime | None = None
) -> RetentionRun | None:
    """Create and plan the day's run; None when another scheduler already has it."""
    with run_lock(f"plan:{portal.member_id}:{run_date.isoformat()}") as lock:
        if lock is None:
            logger.info(
                "retention run skipped (planning elsewhere) %s", portal.member_id
            )
            return None
        run, _created = RetentionRun.objects.get_or_create(
            portal=portal, run_date=run_date
        )
        if run.status != RetentionRun.Status.PLANNING:
            logger.info(
                "retention run skipped (already running/done) %s", portal.member_id
            )
            return None
        run_plan(run, now=now)
        return run


def run_plan(run: RetentionRun, *, now: datetime | None = None) -> None:
    """Record what is due; repeatable (a crashed planner is simply run again)."""
    now = now or timezone.now()
    portal = run.portal
    rules = PortalRules.load(portal)
    client = portal_client(portal)
    planned: list[RunLead] = []
    notices: list[RetentionNotice] = []
    for row in candidates(client, rules, now):
        verdict = rules.verdict(row, now)
        if verdict.action == "destroy" and verdict.due_at is not None:
            planned.append(
                RunLead(
                    run=run,
                    portal=portal,
                    lead_id=verdict.lead_id,
                    data_class=verdict.data_class,
                    reason=verdict.reason,
                    due_at=verdict.due_at,
                    destroy_by=verdict.destroy_by,
                )
            )
        elif verdict.action in ("notice", "flag") and verdict.due_at is not None:
            kind = (
                RetentionNotice.Kind.DUE_SOON
                if verdict.action == "notice"
                else RetentionNotice.Kind.MEDICAL
            )
            notices.append(
                RetentionNotice(
                    portal=portal,
                    run=run,
                    lead_id=verdict.lead_id,
                    kind=kind,
                    data_class=verdict.data_class,
                    due_date=verdict.due_at.date(),
                )
            )
    # ON CONFLICT DO NOTHING: a lead already on its way out in another run,
    # or planned by a planner that crashed, stays with the row it has.
    RunLead.objects.bulk_create(planned, ignore_conflicts=True, batch_size=1000)
    RetentionNotice.objects.bulk_create(notices, ignore_conflicts=True, batch_size=1000)
    RetentionRun.objects.filter(pk=run.pk, status=RetentionRun.Status.PLANNING).update(
        status=RetentionRun.Status.RUNNING, planned_at=timezone.now()
    )
    run.refresh_from_db()
    _count_requests(run, client)
    logger.info(
        "retention run planned member_id=%s run=%s leads=%d notices=%d",
        portal.member_id,
        run.pk,
        len(planned),
        len(notices),
    )


# --- the steps ------------------------------------------------------------------------


@dataclass
class StepResult:
    archived: int = 0
    deleted: int = 0
    purged: int = 0
    more: bool = False
    locked: bool = False


def run_step(
    *, run_id: int, budget: int = 500, now: datetime | None = None
) -> StepResult:
    """Do up to ``budget`` leads of the run; ``more`` when it should be called again."""
    run = RetentionRun.objects.select_related("portal").get(pk=run_id)
    result = StepResult()
    if run.finished:
        return result
    portal = run.portal
    with run_lock(f"step:{portal.member_id}") as lock:
        if lock is None:
            result.more, result.locked = True, True
            return result
        if run.status == RetentionRun.Status.PLANNING:
            run_plan(run, now=now)
        client = portal_client(portal)
        started = time.monotonic()
        try:
            while result.archived + result.deleted + result.purged < budget:
                moment = now or timezone.now()
                archived = archive_group(run, client, moment)
                deleted = delete_group(run, client)
                purged = purge_group(run, moment)
                lock.extend()
                result.archived += archived
                result.deleted += deleted
                result.purged += purged
                if not archived + deleted + purged:
                    break
                if time.monotonic() - started > STEP_SECONDS:
                    break
        finally:
            _count_requests(run, client)
        RetentionRun.objects.filter(pk=run.pk).update(
            steps=F("steps") + 1, touched_at=timezone.now()
        )
        result.more = _work_left(run, now or timezone.now())
        if not result.more:
            run_finish(run)
    return result


def _work_left(run: RetentionRun, now: datetime) -> bool:
    open_here = RunLead.objects.filter(
        run=run, state__in=[State.PLANNED, State.ARCHIVED, State.DELETED]
    ).exists()
    purge_due = RunLead.objects.filter(
        portal=run.portal, state=State.CONFIRMED, purge_after__lte=now
    ).exists()
    return open_here or purge_due


def _count_requests(run: RetentionRun, client: Client) -> None:
    if client.requests_sent:
        counter = _counter(run)
        if counter is not None:
            counter.hincrby("counts", "requests", client.requests_sent)
        client.requests_sent = 0


def _counter(run: RetentionRun) -> Any:
    """A Redis hash of the run's figures; survives rolled-back transactions."""
    if not settings.REDIS_URL:
        return None

    class _Hash:
        def __init__(self) -> None:
            self.client = redis_client(settings.REDIS_URL)

        def hincrby(self, key: str, field_name: str, by: int) -> None:
            name = f"{_counter_prefix(run)}:{key}"
            pipe = self.client.pipeline()
            pipe.hincrby(name, field_name, by)
            pipe.expire(name, 7 * 86400)
            pipe.execute()

    return _Hash()


def _counter_prefix(run: RetentionRun) -> str:
    # Row ids are reused after a database is rebuilt; member_id and date are not.
    return f"pdn:retention:run:{run.portal.member_id}:{run.run_date}:{run.pk}"


def run_figures(run: RetentionRun) -> dict[str, int]:
    """Requests sent and delete commands per lead, as counted outside transactions."""
    if not settings.REDIS_URL:
        return {}
    client = redis_client(settings.REDIS_URL)
    prefix = _counter_prefix(run)
    counts = client.hgetall(f"{prefix}:counts")
    deleted = client.hgetall(f"{prefix}:deleted")
    sent = client.hgetall(f"{prefix}:sent")
    return {
        "requests": int(counts.get(b"requests", 0)),
        "bitrix24_ms": int(counts.get(b"bitrix24_ms", 0)),
        "deleted_twice": sum(1 for v in deleted.values() if int(v) > 1),
        "sent_twice": sum(1 for v in sent.values() if int(v) > 1),
        "delete_commands": sum(int(v) for v in sent.values()),
    }


def _save_rows(rows: Sequence[RunLead], names: Sequence[str]) -> None:
    """One UPDATE … FROM (VALUES …) for a group; bulk_update's CASEs cost more
    than the batch call itself."""
    if not rows:
        return
    table = RunLead._meta.db_table
    columns = []
    for name in names:
        model_field = RunLead._meta.get_field(name)
        column = str(getattr(model_field, "column", name))
        kind = str(model_field.db_type(connection))  # type: ignore[union-attr]
        columns.append((name, column, kind.split("(")[0]))
    placeholders = ", ".join(f"%s::{kind}" for _name, _column, kind in columns)
    values_sql = ", ".join(f"(%s::bigint, {placeholders})" for _row in rows)
    params: list[Any] = []
    for row in rows:
        params.append(row.pk)
        for name, column, _kind in columns:
            value = getattr(row, column if column.endswith("_id") else name)
            if name == "categories":
                value = json.dumps(value)
            params.append(value)
    assignments = ", ".join(f"{column} = v.{column}" for _n, column, _k in columns)
    names_sql = ", ".join(["id", *(column for _n, column, _k in columns)])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS t SET {assignments} "  # noqa: S608 (names from the model)
            f"FROM (VALUES {values_sql}) AS v({names_sql}) WHERE t.id = v.id",
            params,
        )


def _take(run: RetentionRun, states: Sequence[str]) -> list[RunLead]:
    # SKIP LOCKED: a second worker takes the next group instead of the same one.
    return list(
        RunLead.objects.select_for_update(skip_locked=True)
        .filter(run=run, state__in=list(states))
        .order_by("lead_id")[:GROUP]
    )


def _rows_of(result: Any) -> dict[int, dict[str, Any]]:
    if isinstance(result, Mapping):
        result = list(result.values())
    if not isinstance(result, list):
        return {}
    return {int(r["ID"]): r for r in result if isinstance(r, dict) and "ID" in r}


def _purge_after(row: RunLead, now: datetime, grace_days: int) -> datetime:
    after = now + timedelta(days=grace_days)
    if row.destroy_by is not None:
        # 152-FZ art. 21 part 5: the archive too is gone by the deadline.
        after = min(after, row.destroy_by - timedelta(days=1))
    return max(after, now)


def _timed_batch(
    run: RetentionRun, client: Client, commands: Mapping[str, tuple[str, Any]]
) -> Any:
    """The batch, with the time spent on it (pacing waits included) counted."""
    started = time.monotonic()
    try:
        return client.batch(commands)
    finally:
        counter = _counter(run)
        if counter is not None:
            spent = int((time.monotonic() - started) * 1000)
            counter.hincrby("counts", "bitrix24_ms", spent)


def _raise_portal_limits(outcome: Any) -> None:
    """A limit on the portal or the method is no fault of any lead: retry later.

    The group rolls back; deletes that did go through answer NOT_FOUND next
    time, which counts as done.
    """
    for error in outcome.errors.values():
        if isinstance(error, errors.MethodBlocked | errors.RateLimited):
            raise error


def _code(error: errors.B24Error | None) -> str:
    """A short code for a failed command: the platform's, else the error's kind."""
    if error is None:
        return "no_result"
    return error.code or type(error).__name__


def _fail(row: RunLead, code: str) -> None:
    row.attempts += 1
    row.last_error = (code or "error")[:64]
    if row.attempts >= MAX_ATTEMPTS:
        row.state = State.FAILED
        RetentionNotice.objects.get_or_create(
            portal=row.portal,
            lead_id=row.lead_id,
            kind=RetentionNotice.Kind.FAILED,
            due_date=row.due_at.date(),
            defaults={"run": row.run, "data_class": row.data_class},
        )


def archive_group(run: RetentionRun, client: Client, now: datetime) -> int:
    """Read a group of planned leads and archive them; returns how many were handled."""
    portal = run.portal
    with transaction.atomic():
        rows = _take(run, [State.PLANNED])
        if not rows:
            return 0
        ids = [r.lead_id for r in rows]
        commands: dict[str, tuple[str, Mapping[str, Any]]] = {
            "leads": (
                "crm.lead.list",
                {"filter": {"@ID": ids}, "select": FULL_SELECT, "start": -1},
            )
        }
        for lead_id in ids:
            commands[f"cm{lead_id}"] = (
                "crm.timeline.comment.list",
                {
                    "filter": {"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead"},
                    "order": {"ID": "ASC"},
                },
            )
        outcome = _timed_batch(run, client, commands)
        _raise_portal_limits(outcome)
        if "leads" not in outcome.results:
            raise outcome.errors.get("leads") or errors.Transient(
                "NO_RESULT", "lead list missing from the batch"
            )
        found = _rows_of(outcome.results["leads"])
        rules = PortalRules.load(portal)  # a hold set since planning counts
        prepared: list[tuple[ArchiveKey, ArchivedLead]] = []

        for row in rows:
            fields = found.get(row.lead_id)
            if fields is None:
                # Gone before we came: nothing of ours to archive or destroy.
                row.state, row.skip_reason = State.SKIPPED, "gone"
                continue
            verdict = rules.verdict(fields, now)
            if verdict.action != "destroy":
                row.state, row.skip_reason = State.SKIPPED, verdict.reason[:32]
                continue
            key = f"cm{row.lead_id}"
            if key not in outcome.results:
                error = outcome.errors.get(key)
                _fail(row, _code(error))
                continue
            comments = _comments(
                client, row.lead_id, outcome.results[key], key, outcome
            )
            prepared.append(
                _archive_one(row, fields, comments, now, rules.policy.grace_days)
            )
            if rules.policy.act_names:
                name = archive.full_name(fields)
                if name:
                    row.subject_name_sealed = crypto.seal(
                        name, purpose=f"retention-act:{portal.member_id}"
                    )
        archive.archive_save_all(prepared)
        _save_rows(
            rows,
            [
                "state",
                "skip_reason",
                "attempts",
                "last_error",
                "categories",
                "subject_ref",
                "subject_name_sealed",
                "archived_at",
                "purge_after",
            ],
        )
        for row in rows:
            if row.state == State.ARCHIVED:
                journal_record(
                    portal=portal,
                    action="retention.lead.archived",
                    actor=ACTOR,
                    subject=subject_lead(row.lead_id),
                    details={"run": run.pk, "data_class": row.data_class},
                )
    return len(rows)


def _comments(
    client: Client, lead_id: int, first: Any, key: str, outcome: Any
) -> list[dict[str, Any]]:
    rows = [c for c in (first or []) if isinstance(c, dict)]
    after = outcome.nexts.get(key)
    while after:
        envelope = client.call_raw(
            "crm.timeline.comment.list",
            {
                "filter": {"ENTITY_ID": lead_id, "ENTITY_TYPE": "lead"},
                "order": {"ID": "ASC"},
                "start": after,
            },
        )
        page = envelope.result if isinstance(envelope.result, list) else []
        rows.extend(c for c in page if isinstance(c, dict))
        after = envelope.next
    return rows


def _archive_one(
    row: RunLead,
    fields: Mapping[str, Any],
    comments: list[dict[str, Any]],
    now: datetime,
    grace_days: int,
) -> tuple[ArchiveKey, ArchivedLead]:
    row.purge_after = _purge_after(row, now, grace_days)
    prepared = archive.archive_prepare(
        run_lead=row, fields=fields, comments=comments, purge_after=row.purge_after
    )
    row.state = State.ARCHIVED
    row.archived_at = now
    row.categories = archive.categories_of(fields, comments)
    row.subject_ref = _subject_ref(row.portal, row.lead_id, fields)
    return prepared


def _subject_ref(portal: Portal, lead_id: int, fields: Mapping[str, Any]) -> str:
    """The lead id and its phone's keyed pseudonym: identifies, reveals nothing.

    A masked PHONE field does not parse; the sealed original in
    UF_CRM_PDN_ORIGINAL_PHONE does.
    """
    ref = subject_lead(lead_id)
    candidates = [
        item.get("VALUE")
        for item in fields.get("PHONE") or []
        if isinstance(item, Mapping)
    ]
    # Several numbers are kept space-separated (see compliance.lead_phones).
    originals = fields.get("UF_CRM_PDN_ORIGINAL_PHONE") or []
    for sealed in originals if isinstance(originals, list) else originals.split():
        try:
            candidates.append(vault.decrypt_phone(portal, str(sealed)))
        except crypto.CryptoError:
            continue
    for value in candidates:
        try:
            return f"{ref} phone:{vault.pseudonym(portal, str(value or ''))[:20]}"
        except vault.PhoneNumberError:
            continue
    return ref


def delete_group(run: RetentionRun, client: Client) -> int:
    """Delete a group of archived leads and confirm they are gone, in one batch."""
    portal = run.portal
    with transaction.atomic():
        rows = _take(run, [State.ARCHIVED, State.DELETED])
        if not rows:
            return 0
        ids = [r.lead_id for r in rows]
        to_delete = [r.lead_id for r in rows if r.state == State.ARCHIVED]
        commands: dict[str, tuple[str, Mapping[str, Any]]] = {
            f"d{lead_id}": ("crm.lead.delete", {"id": lead_id}) for lead_id in to_delete
        }
        # Commands run in order: this list sees the deletes above it.
        commands["left"] = (
            "crm.lead.list",
            {"filter": {"@ID": ids}, "select": ["ID"], "start": -1},
        )
        counter = _counter(run)
        if counter is not None:
            for lead_id in to_delete:
                counter.hincrby("sent", str(lead_id), 1)
        outcome = _timed_batch(run, client, commands)
        _raise_portal_limits(outcome)
        left = (
            set(_rows_of(outcome.results["left"]))
            if "left" in outcome.results
            else None
        )
        now = timezone.now()

        deleted_now: list[RunLead] = []
        for row in rows:
            key = f"d{row.lead_id}"
            if row.state == State.ARCHIVED:
                error = outcome.errors.get(key)
                if key in outcome.results:
                    if counter is not None:
                        counter.hincrby("deleted", str(row.lead_id), 1)
                elif not isinstance(error, errors.NotFound):
                    # A failed command, or one with no outcome at all: retried.
                    _fail(row, _code(error))
                    continue
                row.state, row.deleted_at = State.DELETED, now
                deleted_now.append(row)
            if left is None:
                continue
            if row.lead_id in left:
                # Said deleted, still listed: send it again.
                row.state = State.ARCHIVED
                _fail(row, "still_present")
            else:
                row.state, row.confirmed_at = State.CONFIRMED, now
        _save_rows(
            rows, ["state", "attempts", "last_error", "deleted_at", "confirmed_at"]
        )
        for row in deleted_now:
            journal_record(
                portal=portal,
                action="retention.lead.deleted",
                actor=ACTOR,
                subject=subject_lead(row.lead_id),
                details={"run": run.pk, "data_class": row.data_class},
            )
    return len(rows)


def purge_group(run: RetentionRun, now: datetime) -> int:
    """Destroy the archives whose grace has ended; this run's act will list them."""
    portal = run.portal
    system = system_code(portal)
    with transaction.atomic():
        rows = list(
            RunLead.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(portal=portal, state=State.CONFIRMED, purge_after__lte=now)
            .select_related("portal")
            .order_by("lead_id")[: GROUP * 4]
        )
        archive.archive_destroy_all([row.pk for row in rows])
        for row in rows:
            entry = journal_record(
                portal=portal,
                action="retention.lead.destroyed",
                actor=ACTOR,
                subject=subject_lead(row.lead_id),
                details={
                    "run": run.pk,
                    "categories": list(row.categories),
                    "system": system,
                    "reason": row.reason,
                    "destroyed_on": now.date().isoformat(),
                },
            )
            row.state, row.purged_at, row.purged_run = State.PURGED, now, run
            row.journal_seq = entry.seq
        _save_rows(rows, ["state", "purged_at", "purged_run", "journal_seq"])
    return len(rows)


def system_code(portal: Portal) -> str:
    """The information system as a journal code; the entry's portal says which one."""
    return "bitrix24_crm+pdn_guard_db"


def run_finish(run: RetentionRun) -> RetentionRun:
    """Close the run once (the row lock decides), write its act and journal line."""
    from compliance.retention.act import act_make

    with transaction.atomic():
        run = RetentionRun.objects.select_for_update().get(pk=run.pk)
        if run.finished:
            return run
        leads = RunLead.objects.filter(run=run)
        failed = leads.filter(state=State.FAILED).count()
        run.status = RetentionRun.Status.PARTIAL if failed else RetentionRun.Status.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        purged = RunLead.objects.filter(purged_run=run).count()
        if purged:
            act_make(run)
        journal_record(
            portal=run.portal,
            action="retention.run.finished",
            actor=ACTOR,
            details={
                "run": run.pk,
                "run_date": run.run_date.isoformat(),
                "status": run.status,
                "planned": leads.count(),
                "deleted": leads.filter(deleted_at__isnull=False).count(),
                "purged": purged,
                "failed": failed,
            },
        )
    logger.info(
        "retention run finished member_id=%s run=%s status=%s purged=%d failed=%d",
        run.portal.member_id,
        run.pk,
        run.status,
        purged,
        failed,
    )
    return run


# --- reading for pages and commands ---------------------------------------------------


def run_progress(run: RetentionRun) -> dict[str, int]:
    """Leads of the run by state (for the settings page)."""
    counts = dict.fromkeys(State.values, 0)
    for state, number in _state_counts(run):
        counts[state] = number
    return counts


def _state_counts(run: RetentionRun) -> list[tuple[str, int]]:
    from django.db.models import Count

    rows = RunLead.objects.filter(run=run).values_list("state").annotate(n=Count("id"))
    return [(str(state), int(n)) for state, n in rows]


def runs_recent(portal: Portal, limit: int = 30) -> list[RetentionRun]:
    return list(
        RetentionRun.objects.filter(portal=portal)
        .select_related("act")
        .order_by("-run_date")[:limit]
    )


def notices_open(portal: Portal) -> list[RetentionNotice]:
    today = timezone.localdate()
    return list(
        RetentionNotice.objects.filter(
            portal=portal, due_date__gte=today - timedelta(days=1)
        ).order_by("due_date", "lead_id")[:500]
    )


__all__ = [
    "UNCONVERTED",
    "WITHDRAWN",
    "add_months",
    "run_begin",
    "run_finish",
    "run_plan",
    "run_preview",
    "run_step",
]

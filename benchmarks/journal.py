"""Access journal figures: append rate, verification and export of 1M entries.

Run: ``.venv/bin/python benchmarks/journal.py [--entries 1000000]``

It creates (and afterwards drops) its own PostgreSQL database
``pdn_bench_journal`` on 127.0.0.1, so it never touches another one.

- ``append_1_writer_ms`` / ``append_1_writer_cpu_ms``: one writer, wall
  time and client CPU per append (the CPU figure does not depend on how
  busy the machine is).
- ``append_per_s``: four writer processes call ``journal_record`` for the
  same portal (the worst case: they all queue on that portal's head row),
  each append in its own transaction, for a few seconds.
  ``append_per_s_4_portals`` is the same with one portal per writer.
- The 1M-entry journal is loaded by a fast path: the chain is computed in
  Python with the same canonical form as ``journal_record`` and written with
  COPY, then one checkpoint is signed and the table vacuumed.
  ``verify_chain`` must accept it, which also proves the fast path built a
  genuine chain. It runs in a fresh process: ``verify_1m_cpu_s`` is that
  process's CPU time (on a shared machine the wall time also measures
  everyone else's load) and ``verify_1m_peak_rss_mb`` its peak memory.
- ``export_1m_peak_rss_mb`` is the peak resident memory of a fresh process
  that runs ``journal_export`` over those entries into a file.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DB = "pdn_bench_journal"
SERVER = "postgres://postgres@127.0.0.1:5432"

os.environ.update(
    PDN_ENV="test",
    DATABASE_URL=f"{SERVER}/{DB}",
    SANDBOX_DATABASE_URL=f"{SERVER}/{DB}_sb",
    DJANGO_SETTINGS_MODULE="b24app.settings",
)
sys.path.insert(0, str(REPO))


def setup() -> None:
    import django

    django.setup()


def recreate_databases() -> None:
    for name in (DB, f"{DB}_sb"):
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", name],
            check=True,
        )
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True
        )


def make_portal(member_id: str) -> Any:
    from integrator.models import Portal

    return Portal.objects.create(
        member_id=member_id,
        domain=f"{member_id}.bitrix24.ru",
        client_endpoint=f"https://{member_id}.bitrix24.ru/rest/",
        server_endpoint="https://oauth.bitrix.info/rest/",
        application_token="bench",  # noqa: S106 - a throw-away database
        status=Portal.Status.ACTIVE,
    )


def _writer(member_id: str, seconds: float, start_at: float, results: Any) -> None:
    setup()
    from django.db import connection

    from compliance.journal import Actor, journal_record, subject_lead
    from integrator.models import Portal

    portal = Portal.objects.get(member_id=member_id)
    actor = Actor.user(17, "revealer")
    while time.time() < start_at:
        time.sleep(0.001)
    count, deadline = 0, start_at + seconds
    while time.time() < deadline:
        journal_record(
            portal=portal,
            action="lead.phone.revealed",
            actor=actor,
            subject=subject_lead(1000 + count % 5000),
            details={"reason": "callback", "channel": "lead_tab"},
        )
        count += 1
    connection.close()
    results.put(count)


def append_cost(portal: Any, count: int = 500) -> tuple[float, float]:
    """Milliseconds of wall time and of this process's CPU per append, one writer."""
    from compliance.journal import Actor, journal_record, subject_lead

    actor = Actor.user(17, "revealer")
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        journal_record(
            portal=portal,
            action="lead.phone.revealed",
            actor=actor,
            subject=subject_lead(n + 1),
            details={"reason": "callback", "channel": "lead_tab"},
        )
    wall = (time.perf_counter() - started) * 1000 / count
    return wall, (time.process_time() - cpu) * 1000 / count


def append_rate(member_ids: list[str], seconds: float) -> float:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start_at = time.time() + 1.0
    workers = [
        context.Process(target=_writer, args=(m, seconds, start_at, results))
        for m in member_ids
    ]
    for worker in workers:
        worker.start()
    total: int = sum(results.get() for _ in workers)
    for worker in workers:
        worker.join()
    return total / seconds


def bulk_load(portal: Any, entries: int) -> None:
    """Write ``entries`` correctly chained rows with COPY (the fast path)."""
    from django.db import connection

    from compliance import chain
    from compliance.journal import checkpoint_make, details_json
    from compliance.models import JournalHead

    details = details_json({"reason": "callback", "channel": "lead_tab"})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev = chain.GENESIS_HASH
    columns = (
        "portal_id, seq, at, action, actor_kind, actor_user_id, actor_role, "
        "subject, details, prev_hash, entry_hash"
    )
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY compliance_journalentry ({columns}) FROM STDIN") as copy:
            for seq in range(1, entries + 1):
                at = start + timedelta(milliseconds=seq)
                subject = f"lead#{1000 + seq % 50000}"
                digest = chain.entry_hash(
                    chain.canonical_entry(
                        portal=portal.member_id,
                        seq=seq,
                        at=chain.format_at(at),
                        action="lead.phone.revealed",
                        actor_kind="user",
                        actor_user_id=17,
                        actor_role="revealer",
                        subject=subject,
                        details_json=details,
                        prev_hash=prev,
                    )
                )
                copy.write_row(
                    (
                        portal.pk,
                        seq,
                        at,
                        "lead.phone.revealed",
                        "user",
                        17,
                        "revealer",
                        subject,
                        details,
                        prev,
                        digest,
                    )
                )
                prev = digest
    JournalHead.objects.create(portal=portal, last_seq=entries, last_hash=prev)
    checkpoint_make(portal=portal)
    # A journal this size in production is old, vacuumed and hinted; a
    # freshly copied table would charge its first reader for that work.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) compliance_journalentry")


def export_child(member_id: str, path: str) -> None:
    """Run in a fresh process so its peak memory is the export's alone."""
    setup()
    from compliance.export import journal_export
    from compliance.journal import Actor
    from integrator.models import Portal

    portal = Portal.objects.get(member_id=member_id)
    with open(path, "wb") as out:
        summary = journal_export(portal=portal, actor=Actor.user(5, "auditor"), out=out)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"entries": summary.entries, "peak_rss_mb": peak_kb / 1024}))


def verify_child(member_id: str) -> None:
    """Verify in a fresh process: its wall, CPU and peak memory are the check's."""
    setup()
    from compliance.journal import verify_chain
    from integrator.models import Portal

    portal = Portal.objects.get(member_id=member_id)
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    result = verify_chain(portal)
    figures = {
        "ok": result.ok,
        "entries": result.entries,
        "s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "baseline_rss_mb": baseline_kb / 1024,
    }
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--export-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--verify-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(*args.export_child)
        return
    if args.verify_child:
        verify_child(args.verify_child)
        return

    recreate_databases()
    setup()
    from django.core.management import call_command
    from django.db import connections

    from compliance.journal import verify_chain
    from compliance.offline_verify import verify_bundle

    call_command("migrate", verbosity=0)
    shared = make_portal("bench-shared")
    singles = [make_portal(f"bench-{n}") for n in range(4)]
    big = make_portal("bench-1m")
    figures: dict[str, float | int | bool] = {"load_avg_1m": os.getloadavg()[0]}
    try:
        wall, cpu = append_cost(make_portal("bench-single"))
        figures["append_1_writer_ms"] = round(wall, 3)
        figures["append_1_writer_cpu_ms"] = round(cpu, 3)
        figures["append_per_s"] = round(
            append_rate([shared.member_id] * 4, args.seconds)
        )
        figures["append_per_s_4_portals"] = round(
            append_rate([p.member_id for p in singles], args.seconds)
        )
        print(
            f"append: {figures['append_per_s']}/s one portal, "
            f"{figures['append_per_s_4_portals']}/s four portals"
        )
        figures["appended_chain_valid"] = all(
            verify_chain(p).ok for p in [shared, *singles]
        )

        started = time.perf_counter()
        bulk_load(big, args.entries)
        print(f"loaded {args.entries} entries in {time.perf_counter() - started:.1f} s")

        child = subprocess.run(
            [sys.executable, __file__, "--verify-child", big.member_id],
            check=True,
            capture_output=True,
            text=True,
        )
        verified = json.loads(child.stdout.splitlines()[-1])
        figures["verify_1m_s"] = round(verified["s"], 2)
        figures["verify_1m_cpu_s"] = round(verified["cpu_s"], 2)
        figures["verify_1m_peak_rss_mb"] = round(verified["peak_rss_mb"], 1)
        figures["verify_1m_ok"] = verified["ok"] and verified["entries"] == args.entries
        print(f"verify_chain: {verified}")

        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "bundle.zip")
            started = time.perf_counter()
            child = subprocess.run(
                [sys.executable, __file__, "--export-child", big.member_id, path],
                check=True,
                capture_output=True,
                text=True,
            )
            figures["export_1m_s"] = round(time.perf_counter() - started, 2)
            exported = json.loads(child.stdout.splitlines()[-1])
            figures["export_1m_peak_rss_mb"] = round(exported["peak_rss_mb"], 1)
            figures["export_1m_bundle_mb"] = round(os.path.getsize(path) / 2**20, 1)

            started = time.perf_counter()
            report = verify_bundle(path)
            figures["offline_verify_1m_s"] = round(time.perf_counter() - started, 2)
            figures["offline_verify_1m_ok"] = report.ok
        figures["entries"] = args.entries
    finally:
        connections.close_all()
        for name in (DB, f"{DB}_sb"):
            subprocess.run(
                ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", name],
                check=False,
            )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""A retention run over 10,000 due leads at Bitrix24's standard rate limit.

Run: ``.venv/bin/python benchmarks/retention.py [--leads 10000] [--redis-db 7]``

The Redis database is also the Celery broker of the benchmark's workers:
give it one no test or other worker uses meanwhile, or their workers take
each other's tasks.

Creates fresh PostgreSQL databases, serves the sandbox portal with gunicorn
(one worker: the sandbox keeps its leaky bucket in memory), seeds the leads
with a last change long past the 6-month clock, closes the bucket to the
standard plan (2 requests/s, burst 50) and lets real Celery workers do the
run in real time: plan, archive (fields, phones, timeline comments), delete
in batches, confirm, destroy the archives (no grace) and write the act. It
does this twice, on two portals: once undisturbed, once with the worker
killed (SIGKILL) a third of the way through and a new one started.

Figures per pass: ``requests`` the portal received; ``lower_bound`` = the
batch requests the work needs at 50 commands each (a comment list and a
delete per lead, a read and a confirming list per 50 leads, the planning
pages 50 to a batch);
``ratio``; ``wall_s`` from the first request to the finished run;
``bucket_min_s`` (the least time the portal's bucket allows for that many
requests: the burst at once, the rest at the drain rate); ``lost`` (due leads
neither destroyed nor flagged as failed, plus leads left on the portal);
``deleted_twice`` (leads Bitrix24 reported deleted more than once); and for
the killed pass ``resume_ok``. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
STANDARD_RATE, STANDARD_BURST = 2.0, 50
LONG_AGO = "2025-01-15T10:00:00+03:00"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def recreate(name: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop(name: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_until_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--redis-db", type=int, default=7)
    parser.add_argument(
        "--no-kill", action="store_true", help="only the undisturbed pass"
    )
    args = parser.parse_args()

    tag = uuid.uuid4().hex[:6]
    app_db, sandbox_db = f"pdn_rt_bench_{tag}", f"pdn_rt_bench_{tag}_sb"
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            "PDN_ENV": "test",
            "DJANGO_SETTINGS_MODULE": "b24app.settings",
            "DATABASE_URL": f"{PG}/{app_db}",
            "SANDBOX_DATABASE_URL": f"{PG}/{sandbox_db}",
            "SANDBOX_BASE_URL": sandbox_url,
            "APP_BASE_URL": "http://127.0.0.1:9",
            "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
            # A killed worker's lock lasts this long: as long as one batch
            # may still be running on the portal, not production's minutes.
            "PDN_RETENTION_LOCK_TTL": "15",
            "LOG_LEVEL": "WARNING",
        }
    )
    for name in (app_db, sandbox_db):
        recreate(name)
    python = sys.executable
    manage = [python, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"]
    subprocess.run(manage, cwd=ROOT, check=True)
    subprocess.run([*manage, "--database", "sandbox"], cwd=ROOT, check=True)
    gunicorn = subprocess.Popen(
        [
            str(Path(python).parent / "gunicorn"),
            "sandbox.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    try:
        wait_until_up(port, gunicorn)
        figures = run(sandbox_url, args.leads, kill=not args.no_kill)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        for name in (app_db, sandbox_db):
            drop(name)
    print(json.dumps(figures))


class Worker:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from b24app.celery import app

        name = f"rt-bench-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "b24app", "worker",
                "--pool", "threads", "--concurrency", "2", "--hostname", name,
                "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[name], timeout=0.5):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit("the Celery worker did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def run(sandbox_url: str, leads: int, *, kill: bool = True) -> dict[str, Any]:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from b24app.celery import app

    app.control.purge()
    clean = one_pass(sandbox_url, leads, slug="clean", kill_at=None)
    if not kill:
        return clean
    killed = one_pass(sandbox_url, leads, slug="killed", kill_at=leads // 3)
    return {
        **clean,
        "killed": {
            key: killed[key]
            for key in (
                "requests",
                "ratio",
                "wall_s",
                "bucket_min_s",
                "lost",
                "deleted_twice",
                "resent",
                "resume_ok",
            )
        },
        "rate_per_s": STANDARD_RATE,
        "burst": STANDARD_BURST,
        "clock": "real time",
    }


def one_pass(
    sandbox_url: str, leads: int, *, slug: str, kill_at: int | None
) -> dict[str, Any]:
    from compliance.models import JournalEntry
    from compliance.retention.models import RetentionRun, RunLead
    from compliance.retention.policy import policy_for
    from compliance.retention.run import run_figures
    from compliance.retention.tasks import retention_run_begin, retention_run_step
    from integrator.models import Portal
    from sandbox.driver import SandboxDriver

    sandbox = SandboxDriver(sandbox_url, timeout=300)
    sandbox.configure_app(base_url="http://127.0.0.1:9")
    info = sandbox.create_portal(slug, plan="standard")
    sandbox.install(slug, post_wizard=False)
    sandbox.finish_install(slug)
    grant = sandbox.issue_tokens(slug, user_id=1)
    portal = Portal(
        member_id=info.member_id,
        domain=grant["domain"],
        client_endpoint=grant["client_endpoint"],
        server_endpoint=grant["server_endpoint"],
        status=Portal.Status.ACTIVE,
        token_user_id=1,
    )
    portal.set_tokens(access=grant["access_token"], refresh=grant["refresh_token"])
    portal.save()
    policy = policy_for(portal)
    policy.enabled, policy.grace_days = True, 0
    policy.save()

    print(f"{slug}: seeding {leads} leads…", file=sys.stderr)
    sandbox.configure_portal(slug, bucket_rate=1e6, bucket_burst=10**6)
    for start in range(0, leads, 500):
        specs = [
            {
                "fields": {
                    "TITLE": f"Заявка {n}",
                    "NAME": "Клиент",
                    "PHONE": [{"VALUE": f"+7900{n:07d}", "VALUE_TYPE": "MOBILE"}],
                },
                "date_create": LONG_AGO,
            }
            for n in range(start, min(start + 500, leads))
        ]
        sandbox.create_leads(slug, specs)
    sandbox.configure_portal(
        slug, bucket_rate=STANDARD_RATE, bucket_burst=STANDARD_BURST
    )
    sandbox.reset_limits(slug)
    sandbox.reset_counters(slug)
    forget_bucket(portal.member_id)

    worker = Worker()
    worker.start()
    started = time.monotonic()
    retention_run_begin.delay(portal.pk, date.today().isoformat())
    run = wait_for_run(portal)
    resumed = False
    try:
        if kill_at is not None:
            while done(run) < kill_at:
                time.sleep(0.2)
            worker.kill()
            print(f"{slug}: killed at {done(run)} leads", file=sys.stderr)
            worker.start()
            # What the resume schedule does for a run nobody works on.
            retention_run_step.delay(run.pk)
            resumed = True
        while not finished(run):
            time.sleep(0.5)
        wall = time.monotonic() - started
    finally:
        worker.stop()

    figures = run_figures(run)
    # The portal's own count: a killed worker's last requests are in it too.
    requests = sandbox.counters(slug).get("requests", 0)
    states = RunLead.objects.filter(run=run)
    purged = states.filter(state=RunLead.State.PURGED).count()
    failed = states.filter(state=RunLead.State.FAILED).count()
    left = sandbox.lead_count(slug)
    deleted_entries = JournalEntry.objects.filter(
        portal=portal, action="retention.lead.deleted"
    )
    subjects = list(deleted_entries.values_list("subject", flat=True))
    lost = leads - purged - failed + left
    commands = 2 * leads + 2 * math.ceil(leads / 50) + leads // 50 + 1
    lower_bound = math.ceil(commands / 50)
    act = RetentionRun.objects.get(pk=run.pk).act
    resume_ok = (
        run.status == RetentionRun.Status.DONE
        and left == 0
        and lost == 0
        and figures["deleted_twice"] == 0
        and len(subjects) == len(set(subjects)) == leads
        and act.destroyed_count == leads
    )
    return {
        "leads": leads,
        "requests": requests,
        "lower_bound": lower_bound,
        "ratio": round(requests / lower_bound, 3),
        "wall_s": round(wall, 1),
        "bucket_min_s": bucket_min(requests),
        "wall_ratio": round(wall / max(bucket_min(requests), 0.1), 3),
        "client_counted": figures["requests"],
        # Time inside batch calls (the portal's work and pacing waits); the
        # rest of wall_s is the worker's own (database, encryption, journal).
        "in_batches_s": round(figures["bitrix24_ms"] / 1000, 1),
        "rejected_503": sandbox.counters(slug).get("query_limit_503", 0),
        "lost": lost,
        "deleted_twice": figures["deleted_twice"],
        "resent": figures["sent_twice"],
        "failed": failed,
        "resume_ok": resume_ok if resumed else None,
    }


def bucket_min(count: int) -> float:
    return round(max(0.0, (count - STANDARD_BURST) / STANDARD_RATE), 1)


def wait_for_run(portal: Any) -> Any:
    from compliance.retention.models import RetentionRun

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        run = RetentionRun.objects.filter(portal=portal).first()
        if run is not None:
            return run
        time.sleep(0.2)
    raise SystemExit("the run was never planned")


def done(run: Any) -> int:
    from compliance.retention.models import RunLead

    return RunLead.objects.filter(run=run, state=RunLead.State.PURGED).count()


def finished(run: Any) -> bool:
    run.refresh_from_db()
    return bool(run.finished)


def forget_bucket(member_id: str) -> None:
    from django.conf import settings

    from integrator.pacing import redis_client

    redis_client(settings.REDIS_URL).delete(f"b24:bucket:{member_id}")


if __name__ == "__main__":
    main()

"""Reading and deleting every lead of a portal at Bitrix24's standard rate limit.

Run: ``.venv/bin/python benchmarks/rest_sweep.py [--leads 10000]``

Creates fresh PostgreSQL databases, serves the sandbox portal with gunicorn
on a free port (one worker: the sandbox keeps its leaky bucket in memory),
seeds the leads through batch ``crm.lead.add`` with the bucket opened wide,
then closes the bucket to the standard plan (2 requests/s, burst 50) and
times two sweeps over the same number of leads, in real time:

- the client: ``>ID`` paging, 50 list pages per batch, deletes in batches of
  50, paced by its own copy of the bucket;
- the naive loop: offset paging one list page per request, the same batch
  deletes, no pacing (503s retried with back-off).

Figures: ``requests`` sent, ``lower_bound`` = ceil(N/50) delete batches +
floor(N/2500) full list batches + 1 list batch that meets the short (or
empty) page, ``ratio``, ``rejected_503``, ``wall_s``, ``bucket_min_s`` (the
least time the portal's bucket allows for that many requests: the burst goes
at once, the rest at the drain rate), and the naive loop's requests, deleted
and left-over leads. When ``wall_s`` is well above ``bucket_min_s`` the
sandbox's own work (deleting 50 leads per batch), not the bucket, set the pace.
The databases are dropped afterwards. The last line is one JSON object.
"""

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
STANDARD_RATE, STANDARD_BURST = 2.0, 50


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--redis-db", type=int, default=2)
    args = parser.parse_args()

    tag = uuid.uuid4().hex[:6]
    app_db, sandbox_db = f"pdn_bench_rest_{tag}", f"pdn_bench_rest_{tag}_sb"
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            "PDN_ENV": "test",
            "DJANGO_SETTINGS_MODULE": "b24app.settings",
            "DATABASE_URL": f"{PG}/{app_db}",
            "SANDBOX_DATABASE_URL": f"{PG}/{sandbox_db}",
            "SANDBOX_BASE_URL": sandbox_url,
            # No app server: the sandbox's events go to a closed port.
            "APP_BASE_URL": "http://127.0.0.1:9",
            "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
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
        figures = run(sandbox_url, args.leads)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        for name in (app_db, sandbox_db):
            drop(name)
    print(json.dumps(figures))


def run(sandbox_url: str, leads: int) -> dict[str, Any]:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from integrator.models import Portal
    from integrator.pacing import PacingConfig
    from integrator.rest import portal_client
    from sandbox.driver import SandboxDriver

    sandbox = SandboxDriver(sandbox_url, timeout=120)
    info = sandbox.create_portal("bench", plan="standard")
    sandbox.install("bench", post_wizard=False)
    sandbox.finish_install("bench")
    grant = sandbox.issue_tokens("bench", user_id=1)
    portal = Portal(
        member_id=info.member_id,
        domain=grant["domain"],
        client_endpoint=grant["client_endpoint"],
        server_endpoint=grant["server_endpoint"],
        status=Portal.Status.ACTIVE,
    )
    portal.set_tokens(access=grant["access_token"], refresh=grant["refresh_token"])
    portal.save()
    wide_open = PacingConfig(rate=1e6, burst=10**6, limit_attempts=50)

    def seed() -> None:
        sandbox.configure_portal("bench", bucket_rate=1e6, bucket_burst=10**6)
        seeder = portal_client(portal, pacing=wide_open)
        commands = {
            f"a{n}": ("crm.lead.add", {"fields": {"TITLE": f"Заявка {n}"}})
            for n in range(leads)
        }
        outcome = seeder.batch(commands)
        assert not outcome.errors and not outcome.missing, "seeding failed"
        # The standard plan from here on, with both buckets empty.
        sandbox.configure_portal(
            "bench", bucket_rate=STANDARD_RATE, bucket_burst=STANDARD_BURST
        )
        sandbox.reset_limits("bench")
        sandbox.reset_counters("bench")
        forget_bucket(portal.member_id)
        assert sandbox.lead_count("bench") == leads

    print(f"seeding {leads} leads…", file=sys.stderr)
    seed()
    print("client sweep…", file=sys.stderr)
    client = portal_client(portal, pacing=PacingConfig())
    started = time.monotonic()
    deleted = sweep(client)
    wall = time.monotonic() - started
    counters = sandbox.counters("bench")
    left = sandbox.lead_count("bench")

    print("naive sweep…", file=sys.stderr)
    seed()
    naive_client = portal_client(
        portal, pacing=PacingConfig(rate=1e6, burst=10**6, limit_attempts=50)
    )
    started = time.monotonic()
    naive_deleted = naive_sweep(naive_client)
    naive_wall = time.monotonic() - started
    naive_counters = sandbox.counters("bench")

    # Deletes in batches of 50; list pages 50 to a batch, the last batch ending
    # on a short page (or one more read to find the set empty).
    lower_bound = math.ceil(leads / 50) + leads // 2500 + 1
    requests = client.requests_sent

    def bucket_min(count: int) -> float:
        return round(max(0.0, (count - STANDARD_BURST) / STANDARD_RATE), 1)

    return {
        "leads": leads,
        "deleted": len(deleted),
        "left": left,
        "requests": requests,
        "portal_requests": counters.get("requests", 0),
        "lower_bound": lower_bound,
        "ratio": round(requests / lower_bound, 3),
        "rejected_503": counters.get("query_limit_503", 0),
        "wall_s": round(wall, 1),
        "bucket_min_s": bucket_min(requests),
        "naive_requests": naive_client.requests_sent,
        "naive_deleted": len(naive_deleted),
        "naive_left": sandbox.lead_count("bench"),
        "naive_rejected_503": naive_counters.get("query_limit_503", 0),
        "naive_wall_s": round(naive_wall, 1),
        "rate_per_s": STANDARD_RATE,
        "burst": STANDARD_BURST,
        "clock": "real time",
    }


def sweep(client: Any) -> list[int]:
    """The retention run's loop: read by ``>ID``, delete each 50 as they come."""
    deleted: list[int] = []
    page: list[int] = []
    for row in client.iterate("crm.lead.list", select=["ID"]):
        page.append(int(row["ID"]))
        if len(page) == 50:
            deleted += client.delete_many("crm.lead.delete", page).done
            page = []
    if page:
        deleted += client.delete_many("crm.lead.delete", page).done
    return deleted


def naive_sweep(client: Any) -> list[int]:
    """Offset paging over the shrinking set: the loop that skips half."""
    deleted: list[int] = []
    start: int | None = 0
    while start is not None:
        page = client.call_raw(
            "crm.lead.list",
            {"order": {"ID": "ASC"}, "select": ["ID"], "start": start},
        )
        ids = [int(row["ID"]) for row in page.result]
        deleted += client.delete_many("crm.lead.delete", ids).done
        start = page.next
    return deleted


def forget_bucket(member_id: str) -> None:
    from django.conf import settings

    from integrator.pacing import redis_client

    redis_client(settings.REDIS_URL).delete(f"b24:bucket:{member_id}")


if __name__ == "__main__":
    main()

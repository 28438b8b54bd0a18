"""Throughput and latency of the event receiver under gunicorn.

Run: ``.venv/bin/python benchmarks/events.py [--events 5000] [--concurrency 8]``

Creates a fresh PostgreSQL database, migrates it, registers one portal,
starts gunicorn on a free port with Redis as the broker, and fires
form-encoded ONCRMLEADUPDATE events (each a new delivery) from threads
holding keep-alive connections. The broker queue and the database are
removed afterwards. The last line is one JSON object with the figures.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import cast
from urllib.parse import urlencode

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
MEMBER_ID = "bench-member"
APP_TOKEN = "bench-application-token"  # noqa: S105 - a throwaway test value

REGISTER = f"""
import django
django.setup()
from integrator.models import Portal
portal = Portal(
    member_id={MEMBER_ID!r},
    domain="bench.bitrix24.ru",
    client_endpoint="https://bench.bitrix24.ru/rest/",
    server_endpoint="https://oauth.bitrix.info/rest/",
    application_token={APP_TOKEN!r},
    status=Portal.Status.ACTIVE,
)
portal.set_tokens(access="a", refresh="r")
portal.save()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def body(lead_id: int) -> bytes:
    fields = {
        "event": "ONCRMLEADUPDATE",
        "event_handler_id": "7",
        "data[FIELDS][ID]": str(lead_id),
        "ts": str(1_700_000_000 + lead_id),
        "auth[domain]": "bench.bitrix24.ru",
        "auth[member_id]": MEMBER_ID,
        "auth[application_token]": APP_TOKEN,
        "auth[access_token]": "x" * 32,
        "auth[client_endpoint]": "https://bench.bitrix24.ru/rest/",
        "auth[server_endpoint]": "https://oauth.bitrix.info/rest/",
    }
    return urlencode(fields).encode()


def server_cpu_seconds(master_pid: int) -> float:
    """User + system CPU of gunicorn's master and workers, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        pid, ppid = int(entry.name), int(fields[1])
        if pid == master_pid or ppid == master_pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def wait_until_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def fire(
    port: int, lead_ids: list[int], latencies: list[float], errors: list[int]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for lead_id in lead_ids:
        payload = body(lead_id)
        started = time.perf_counter()
        conn.request("POST", "/b24/events/", body=payload, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            errors.append(response.status)
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.close()


def run_load(port: int, total: int, concurrency: int, offset: int) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    ids = list(range(offset + 1, offset + total + 1))
    shares = [ids[i::concurrency] for i in range(concurrency)]
    threads = [
        threading.Thread(target=fire, args=(port, share, latencies, errors))
        for share in shares
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} events refused, e.g. HTTP {errors[0]}")
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 2),
        "events_per_s": round(total / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    )
    args = parser.parse_args()

    db_name = f"pdn_bench_events_{os.getpid()}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
        admin.execute(f'CREATE DATABASE "{db_name}"')

    env = {
        **os.environ,
        "PDN_ENV": "test",
        "SANDBOX_ENABLED": "false",
        "DATABASE_URL": f"{PG}/{db_name}",
        "REDIS_URL": args.redis,
        "CELERY_BROKER_URL": args.redis,
        "LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "b24app.settings",
        "DB_CONN_MAX_AGE": "60",
    }
    python = sys.executable
    broker = redis.Redis.from_url(args.redis)
    queued_before = cast(int, broker.llen("celery"))
    port = free_port()
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [python, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        subprocess.run([python, "-c", REGISTER], cwd=ROOT, env=env, check=True)
        server = subprocess.Popen(
            [
                str(Path(python).parent / "gunicorn"),
                "b24app.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--worker-class",
                "gthread",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        wait_until_up(port, server)
        # Warm-up: connections to PostgreSQL and Redis, imports, caches.
        run_load(port, 400, args.concurrency, offset=10_000_000)
        cpu_before = server_cpu_seconds(server.pid)
        figures = run_load(port, args.events, args.concurrency, offset=0)
        # CPU per event is what the figures above would be bound by on an
        # otherwise idle machine; wall-clock figures suffer on a busy one.
        cpu_ms = (server_cpu_seconds(server.pid) - cpu_before) / args.events * 1000
        figures["server_cpu_ms_per_event"] = round(cpu_ms, 2)

        with psycopg.connect(f"{PG}/{db_name}") as conn:
            recorded = conn.execute(
                "SELECT count(*) FROM integrator_eventdelivery"
            ).fetchone()
        enqueued = cast(int, broker.llen("celery")) - queued_before
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        broker.delete("celery")
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    total = args.events + 400
    print(
        f"{total} events sent, {recorded[0] if recorded else 0} deliveries recorded, "
        f"{enqueued} tasks enqueued; gunicorn {args.workers}x{args.threads} "
        f"threads, {args.concurrency} clients"
    )
    # The machine is shared: the load says how much of it the run really had.
    load = round(os.getloadavg()[0], 2)
    print(json.dumps({**figures, "events": args.events, "load_avg_1m": load}))


if __name__ == "__main__":
    main()

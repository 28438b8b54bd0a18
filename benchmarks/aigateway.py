"""Latency the AI gateway adds to a chat completion, plain and streamed.

Run: ``.venv/bin/python benchmarks/aigateway.py [--requests 300] [--concurrency 4]``

Creates a fresh PostgreSQL database, migrates it, registers a portal, a key
and the stub model as its vendor, starts the stub and gunicorn on free
ports, and sends chats holding a name, a phone and a passport (each request
a turn of one of 50 dialogs). The same chats go straight to the stub as the
baseline; the difference is what pseudonymising, the sealed mapping under
its row lock, two journal entries and restoring cost. The database is
removed afterwards. The last line is one JSON object with the figures.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
DIALOGS = 50

REGISTER = """
import sys
from datetime import date
import django
django.setup()
from aigateway.keys import api_key_issue
from aigateway.upstreams import upstream_register
from compliance.journal import Actor
from integrator.models import Portal
portal = Portal.objects.create(
    member_id="bench-ai",
    domain="bench.bitrix24.ru",
    client_endpoint="https://bench.bitrix24.ru/rest/",
    server_endpoint="https://oauth.bitrix.info/rest/",
    application_token="bench-token",
    status=Portal.Status.ACTIVE,
)
admin = Actor.system("operator")
upstream_register(
    portal=portal, code="stub", name="Stub", base_url=sys.argv[1],
    model_map={"assistant": "stub-echo"}, processor_agreement_at=date(2026, 1, 1),
    actor=admin,
)
print(api_key_issue(portal=portal, label="bench", actor=admin)[1])
"""

FIRST = ["Анна", "Мария", "Ольга", "Пётр", "Иван", "Сергей", "Елена", "Дмитрий"]
LAST = ["Смирнова", "Кузнецова", "Попова", "Иванов", "Соколов", "Волков"]


def chat(n: int) -> str:
    first, last = FIRST[n % len(FIRST)], LAST[n % len(LAST)]
    if first in {"Пётр", "Иван", "Сергей", "Дмитрий"}:
        last = last.removesuffix("а")
    return (
        f"Здравствуйте, меня зовут {first} {last}, телефон +7 912 {n % 1000:03d}-"
        f"{n % 100:02d}-{(n * 7) % 100:02d}, паспорт 4510 {100000 + n}. "
        "Хочу записаться на стрижку в пятницу после шести, если есть окно."
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("a server exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("a server did not start")


def fire(
    url: str, key: str, numbers: list[int], stream: bool, out: list[float]
) -> None:
    session = requests.Session()
    for n in numbers:
        body = {
            "model": "stub-echo" if not key else "assistant",
            "stream": stream,
            "messages": [{"role": "user", "content": chat(n)}],
        }
        headers = {"X-PDN-Dialog-Id": f"bench-{n % DIALOGS}"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        started = time.perf_counter()
        response = session.post(url, json=body, headers=headers, timeout=30)
        if response.status_code != 200:
            raise SystemExit(f"HTTP {response.status_code} from {url}")
        if stream and not response.content.endswith(b"data: [DONE]\n\n"):
            raise SystemExit("a stream did not end with [DONE]")
        if not stream and key:
            answer = response.json()["choices"][0]["message"]["content"]
            if answer != chat(n):
                raise SystemExit("an answer came back wrong")
        out.append((time.perf_counter() - started) * 1000)


def run_load(
    url: str, key: str, total: int, concurrency: int, *, stream: bool
) -> dict[str, Any]:
    latencies: list[float] = []
    numbers = list(range(total))
    threads = [
        threading.Thread(
            target=fire,
            args=(url, key, numbers[i::concurrency], stream, latencies),
        )
        for i in range(concurrency)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if len(latencies) != total:
        raise SystemExit("some requests failed")
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 2),
        "per_s": round(total / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    db_name = f"pdn_bench_ai_{os.getpid()}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
        admin.execute(f'CREATE DATABASE "{db_name}"')
    env = {
        **os.environ,
        "PDN_ENV": "test",
        "SANDBOX_ENABLED": "false",
        "DATABASE_URL": f"{PG}/{db_name}",
        "LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "b24app.settings",
    }
    python = sys.executable
    stub_port, app_port = free_port(), free_port()
    stub_url = f"http://127.0.0.1:{stub_port}/v1/chat/completions"
    app_url = f"http://127.0.0.1:{app_port}/v1/chat/completions"
    servers: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(
            [python, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        key = subprocess.run(
            [python, "-c", REGISTER, f"http://127.0.0.1:{stub_port}/v1"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        servers.append(
            subprocess.Popen(
                [python, "-m", "aigateway.stub", "--port", str(stub_port)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        )
        wait_until_up(stub_port, servers[-1])
        servers.append(
            subprocess.Popen(
                [
                    str(Path(python).parent / "gunicorn"),
                    "b24app.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{app_port}",
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
        )
        wait_until_up(app_port, servers[-1])
        # Warm-up: natasha and pymorphy3 load once per gunicorn worker.
        run_load(app_url, key, 40, args.concurrency, stream=False)

        n, c = args.requests, args.concurrency
        direct = run_load(stub_url, "", n, c, stream=False)
        plain = run_load(app_url, key, n, c, stream=False)
        streamed = run_load(app_url, key, n, c, stream=True)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    print(
        f"{args.requests} chats each way, {args.concurrency} clients, "
        f"{DIALOGS} dialogs; gunicorn {args.workers}x{args.threads} threads"
    )
    load = round(os.getloadavg()[0], 2)
    print(
        json.dumps(
            {
                "direct_p50_ms": direct["p50_ms"],
                "gateway_p50_ms": plain["p50_ms"],
                "gateway_p99_ms": plain["p99_ms"],
                "gateway_overhead_p50_ms": round(plain["p50_ms"] - direct["p50_ms"], 2),
                "gateway_per_s": plain["per_s"],
                "stream_p50_ms": streamed["p50_ms"],
                "stream_p99_ms": streamed["p99_ms"],
                "requests": args.requests,
                "load_avg_1m": load,
            }
        )
    )


if __name__ == "__main__":
    main()

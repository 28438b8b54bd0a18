"""Consent ledger figures: what one chat answer, one withdrawal and one read cost.

Run: ``.venv/bin/python benchmarks/consent.py [--clients 300]``

It creates (and afterwards drops) its own PostgreSQL database
``pdn_bench_consent`` on 127.0.0.1, so it never touches another one.

- ``turn_ms`` / ``turn_cpu_ms``: one client message through the whole
  conversation (store the turn, take the chat lock, classify, write the
  ledger event, the status and the journal entry, record the bot's reply),
  with a sender that returns at once, so Bitrix24's own latency is left
  out. Measured on the answers («да») of ``--clients`` clients.
- ``request_ms``: the bot's consent request (the ledger side of it).
- ``withdraw_ms``: a chat withdrawal: event, status, deadline, the AI
  gateway's block (two client references) and the journal.
- ``withdrawn_leads_ms``: reading ``withdrawn_leads`` for every withdrawn
  client of the portal; ``lead_panel_ms``: the lead tab's consent block.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DB = "pdn_bench_consent"
SERVER = "postgres://postgres@127.0.0.1:5432"

os.environ.update(
    PDN_ENV="test",
    DATABASE_URL=f"{SERVER}/{DB}",
    SANDBOX_DATABASE_URL=f"{SERVER}/{DB}_sb",
    DJANGO_SETTINGS_MODULE="b24app.settings",
    # Lead mirroring is enqueued after each answer; nothing consumes it here.
    CELERY_BROKER_URL="memory://",
)
sys.path.insert(0, str(REPO))


def databases(action: str) -> None:
    for name in (DB, f"{DB}_sb"):
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", name],
            check=True,
        )
        if action == "create":
            subprocess.run(
                ["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True
            )


class QuickSender:
    """Answers like imbot.message.add would, without a network."""

    def __init__(self) -> None:
        self.ids = itertools.count(10**6)

    def send(
        self,
        *,
        bot_id: int,
        dialog_id: str,
        text: str,
        keyboard: list[dict[str, str]] | None = None,
    ) -> int:
        return next(self.ids)

    def hand_over(self, *, chat_id: int) -> None:
        return None


def message(portal: Any, sender: QuickSender, chat: int, text: str) -> Any:
    from compliance.consent import conversation

    turn = conversation.turn_record(
        portal=portal,
        event="ONIMBOTMESSAGEADD",
        bot_id=567,
        message_id=next(sender.ids),
        dialog_id=f"chat{chat}",
        chat_id=chat,
        from_user_id=10_000 + chat,
        from_client=True,
        system=False,
        text=text,
        entity_type="LINES",
        entity_id=f"telegrambot|1|{chat}|{10_000 + chat}",
        entity_data_1=f"Y|LEAD|{chat}|N|N|{chat}|0|0|0|0",
        entity_data_2=f"LEAD|{chat}|COMPANY|0|CONTACT|0|DEAL|0",
    )
    assert turn is not None, "message ids never repeat here"
    return conversation.turn_process(turn_id=turn.pk, sender=sender)


def timed(run: Any, count: int) -> tuple[float, float]:
    """Milliseconds of wall time and of this process's CPU per call."""
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        run(n)
    wall = (time.perf_counter() - started) * 1000 / count
    return wall, (time.process_time() - cpu) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=300)
    args = parser.parse_args()
    clients = args.clients

    databases("create")
    import django

    django.setup()
    from django.core.management import call_command

    from compliance.consent import ledger, panel
    from integrator.models import Portal

    call_command("migrate", verbosity=0)
    figures: dict[str, float] = {"load_avg_1m": os.getloadavg()[0]}
    try:
        portal = Portal.objects.create(
            member_id="bench-consent",
            domain="bench.bitrix24.ru",
            client_endpoint="https://bench.bitrix24.ru/rest/",
            server_endpoint="https://oauth.bitrix.info/rest/",
            application_token="bench",  # noqa: S106 - a throw-away database
            status=Portal.Status.ACTIVE,
        )
        sender = QuickSender()

        wall, _ = timed(
            lambda n: message(portal, sender, n + 1, "Здравствуйте"), clients
        )
        figures["request_ms"] = round(wall, 3)
        wall, cpu = timed(lambda n: message(portal, sender, n + 1, "да"), clients)
        figures["turn_ms"], figures["turn_cpu_ms"] = round(wall, 3), round(cpu, 3)
        wall, _ = timed(
            lambda n: message(portal, sender, n + 1, "отзываю согласие"), clients
        )
        figures["withdraw_ms"] = round(wall, 3)

        started = time.perf_counter()
        withdrawn = list(ledger.withdrawn_leads(portal))
        figures["withdrawn_leads_ms"] = round((time.perf_counter() - started) * 1000, 3)
        assert len(withdrawn) == clients, "every client withdrew"
        wall, _ = timed(
            lambda n: panel.lead_panel(portal=portal, lead_id=n + 1), min(clients, 100)
        )
        figures["lead_panel_ms"] = round(wall, 3)
        figures["clients"] = clients
    finally:
        from django.db import connections

        connections.close_all()
        databases("drop")

    print(
        f"consent: answer {figures['turn_ms']} ms, withdrawal "
        f"{figures['withdraw_ms']} ms, {clients} withdrawn listed in "
        f"{figures['withdrawn_leads_ms']} ms"
    )
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()

"""Two deletes of the same leads at once: each lead is reported deleted once."""

import threading

import pytest

from integrator.rest import portal_client
from tests.integrator.rest_support import FAST_RETRIES, installed_portal

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])


def test_concurrent_batches_deleting_the_same_leads_delete_each_once(sandbox_server):
    world = installed_portal(sandbox_server.url)
    ids = world.add_leads(30)
    answers: list[dict[str, object]] = []

    def delete_all() -> None:
        client = portal_client(world.portal, pacing=FAST_RETRIES)
        outcome = client.batch({f"d{i}": ("crm.lead.delete", {"id": i}) for i in ids})
        answers.append(dict(outcome.results))

    threads = [threading.Thread(target=delete_all) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    deleted = [key for answer in answers for key in answer]
    assert sorted(deleted) == sorted(f"d{i}" for i in ids)
    assert world.sandbox.lead_count(world.ref) == 0

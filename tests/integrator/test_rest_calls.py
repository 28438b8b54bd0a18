"""Single REST calls against the sandbox portal: envelopes, errors, moves."""

import pytest

from integrator.rest import portal_client
from tests.integrator.rest_support import FAST_RETRIES, installed_portal

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])


def test_it_returns_the_result_of_a_call(sandbox_server):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]

    lead = portal_client(world.portal, pacing=FAST_RETRIES).call(
        "crm.lead.get", {"id": lead_id}
    )

    assert lead["ID"] == str(lead_id)

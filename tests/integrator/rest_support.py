"""A sandbox portal with PDn Guard installed and its Portal row, for REST tests."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from integrator.models import Portal
from integrator.pacing import PacingConfig
from sandbox.driver import PortalInfo, SandboxDriver

# The portal's real limits, with retry delays short enough for a test run.
FAST_RETRIES = PacingConfig(backoff_base=0.02, backoff_cap=0.1)
NO_APP = "http://127.0.0.1:9"


@dataclass
class InstalledPortal:
    sandbox: SandboxDriver
    info: PortalInfo
    portal: Portal

    @property
    def ref(self) -> str:
        return self.info.ref

    def counters(self) -> dict[str, int]:
        return self.sandbox.counters(self.ref)

    def add_leads(self, count: int, **fields: Any) -> list[int]:
        """Leads added through batch crm.lead.add (a handful of requests)."""
        from integrator.rest import portal_client

        seeder = portal_client(self.portal, pacing=FAST_RETRIES)
        commands = {
            f"add{n}": ("crm.lead.add", {"fields": {"TITLE": f"Заявка {n}", **fields}})
            for n in range(count)
        }
        outcome = seeder.batch(commands)
        assert not outcome.errors and not outcome.missing
        return [int(outcome.results[key]) for key in commands]


def installed_portal(
    sandbox_url: str, *, plan: str = "standard", **portal_settings: Any
) -> InstalledPortal:
    """A fresh sandbox portal, the app installed, its tokens stored as the app would."""
    sandbox = SandboxDriver(sandbox_url)
    # No app server runs in these tests: events go to a closed port.
    sandbox.configure_app(base_url=NO_APP)
    slug = f"rc{uuid.uuid4().hex[:10]}"
    info = sandbox.create_portal(slug, plan=plan)
    if portal_settings:
        info = sandbox.configure_portal(slug, **portal_settings)
    sandbox.install(slug, post_wizard=False)
    sandbox.finish_install(slug)
    grant = sandbox.issue_tokens(slug, user_id=1)
    info = sandbox.portal(slug)

    portal = Portal(
        member_id=info.member_id,
        domain=grant["domain"],
        client_endpoint=grant["client_endpoint"],
        server_endpoint=grant["server_endpoint"],
        application_token=info.application_token or "",
        status=Portal.Status.ACTIVE,
        token_user_id=grant["user_id"],
        token_expires_at=datetime.fromtimestamp(grant["expires"], tz=UTC),
    )
    portal.set_tokens(access=grant["access_token"], refresh=grant["refresh_token"])
    portal.save()
    return InstalledPortal(sandbox=sandbox, info=info, portal=portal)

"""The auditor's journal page in the portal: filters, status, chain check, export."""

import io
import json
import re
import zipfile

import pytest

from compliance.journal import Actor
from compliance.models import JournalEntry
from compliance.phones.reveal import lead_phone_reveal
from compliance.roles import role_assign, role_revoke
from tests.phones.conftest import ADMIN, MANAGER, OUTSIDER, OWN_MANAGER, hidden

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])

AUDITOR = OWN_MANAGER
AUDIT = "/b24/audit/"
ADMIN_ACTOR = Actor.user(ADMIN, "admin")


@pytest.fixture
def journal(framed):
    """Two leads, each revealed once by the manager, and the auditor's role."""
    portal = framed.portal
    role_assign(portal=portal, b24_user_id=MANAGER, role="revealer", actor=ADMIN_ACTOR)
    role_assign(portal=portal, b24_user_id=AUDITOR, role="auditor", actor=ADMIN_ACTOR)
    leads = [
        framed.protected_lead("8 900 123-45-67"),
        framed.protected_lead("8 812 555-01-23"),
    ]
    for lead_id in leads:
        lead_phone_reveal(
            portal=portal, lead_id=lead_id, b24_user_id=MANAGER, reason="callback"
        )
    return leads


def _rows(page: str) -> list[tuple[str, str]]:
    return re.findall(
        r'class="pdn-journal-row" data-seq="\d+" data-action="([^"]+)" '
        r'data-subject="([^"]*)"',
        page,
    )


def _filter(framed, token: str, **fields: str):
    return framed.post_app(AUDIT, {"token": token, "op": "filter", **fields})


def test_an_auditor_opens_the_journal_from_the_apps_page(framed, journal):
    page = framed.open_app(AUDITOR)

    assert page.status_code == 200
    assert "Журнал доступа к персональным данным" in page.text
    assert ("lead.phone.revealed", f"lead#{journal[0]}") in _rows(page.text)
    assert "Телефон показан" in page.text
    assert 'data-ok="0"' not in page.text
    assert "9001234567" not in page.text


def test_filters_narrow_the_journal_by_lead_action_user_and_period(framed, journal):
    token = hidden(framed.open_app(AUDITOR).text, "pdn-journal-filter")

    by_lead = _rows(_filter(framed, token, lead=str(journal[1])).text)
    by_action = _rows(_filter(framed, token, action="role.assigned").text)
    by_user = _rows(_filter(framed, token, user=str(MANAGER)).text)
    future = _filter(framed, token, date_from="2999-01-01").text

    assert {subject for _a, subject in by_lead} == {f"lead#{journal[1]}"}
    assert {action for action, _s in by_action} == {"role.assigned"}
    assert [a for a, _s in by_user] == ["lead.phone.revealed"] * 2
    assert _rows(future) == []
    assert 'data-total="0"' in future


def test_a_period_that_ends_before_it_starts_is_explained(framed, journal):
    token = hidden(framed.open_app(AUDITOR).text, "pdn-journal-filter")

    page = _filter(framed, token, date_from="2026-05-02", date_to="2026-05-01")

    assert "Начало периода позже его конца." in page.text


def test_the_chain_check_reports_an_intact_chain(framed, journal):
    token = hidden(framed.open_app(AUDITOR).text, "pdn-journal-filter")

    page = framed.post_app(AUDIT, {"token": token, "op": "verify"})

    assert 'id="pdn-chain-status" data-ok="1"' in page.text
    assert "Цепочка цела" in page.text


def test_the_export_downloads_a_bundle_and_is_journaled(framed, journal):
    token = hidden(framed.open_app(AUDITOR).text, "pdn-journal-filter")

    download = framed.post_app(
        AUDIT + "export/", {"token": token, "lead": str(journal[0])}
    )

    assert download.headers["Content-Type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(download.content))
    lines = bundle.read("entries.jsonl").decode().splitlines()
    assert {json.loads(line)["subject"] for line in lines} == {f"lead#{journal[0]}"}
    exported = JournalEntry.objects.get(action="journal.exported")
    assert (exported.actor_user_id, exported.actor_role) == (AUDITOR, "auditor")


def test_an_outsider_gets_no_journal(framed, journal):
    page = framed.open_app(OUTSIDER)

    assert page.status_code == 403
    assert "pdn-journal-table" not in page.text


def test_a_forged_journal_token_is_refused(framed, journal):
    token = hidden(framed.open_app(AUDITOR).text, "pdn-journal-filter")

    page = _filter(framed, token[:-2] + "xx")

    assert page.status_code == 401
    assert "pdn-journal-table" not in page.text


def test_a_revoked_auditor_loses_the_page_at_the_next_request(framed, journal):
    token = hidden(framed.open_app(AUDITOR).text, "pdn-journal-filter")
    role_revoke(
        portal=framed.portal, b24_user_id=AUDITOR, role="auditor", actor=ADMIN_ACTOR
    )

    assert _filter(framed, token).status_code == 403


def test_the_portal_admin_opens_the_journal_from_the_settings(framed, journal):
    token = hidden(framed.open_app(ADMIN).text, "pdn-open-journal")

    page = framed.post_app(AUDIT, {"token": token})

    assert page.status_code == 200
    assert 'data-role="admin"' in page.text
    assert ("lead.phone.revealed", f"lead#{journal[0]}") in _rows(page.text)

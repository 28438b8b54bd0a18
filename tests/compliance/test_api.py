import pytest
import requests
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from compliance import roles
from compliance.journal import Actor, journal_record, subject_lead
from compliance.models import ApiToken, JournalEntry
from compliance.offline_verify import verify_bundle

pytestmark = pytest.mark.django_db

ADMIN, AUDITOR, MANAGER = 1, 5, 17
SETUP = Actor.user(ADMIN, "admin")


@pytest.fixture
def staff(portal):
    roles.role_assign(portal=portal, b24_user_id=ADMIN, role="admin", actor=SETUP)
    roles.role_assign(portal=portal, b24_user_id=AUDITOR, role="auditor", actor=SETUP)
    roles.role_assign(portal=portal, b24_user_id=MANAGER, role="revealer", actor=SETUP)
    return portal


def client_for(portal, user_id):
    token = roles.api_token_issue(portal=portal, b24_user_id=user_id, actor=SETUP)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def auditor(staff):
    return client_for(staff, AUDITOR)


def reveals(portal, leads=(1043, 1044, 1045)):
    for lead in leads:
        journal_record(
            portal=portal,
            action="lead.phone.revealed",
            actor=Actor.user(MANAGER, "revealer"),
            subject=subject_lead(lead),
            details={"reason": "callback"},
        )


def assert_error_shape(response, status, code):
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)


def test_an_outsider_without_a_token_is_refused(staff):
    response = APIClient().get("/api/journal/entries/")

    assert_error_shape(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_refused(staff):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer pdn_not-a-real-token")

    assert_error_shape(
        client.get("/api/journal/entries/"), 401, "authentication_failed"
    )


def test_a_manager_who_reveals_phones_cannot_read_the_journal(staff):
    response = client_for(staff, MANAGER).get("/api/journal/entries/")

    assert_error_shape(response, 403, "permission_denied")


def test_revoking_the_role_revokes_the_token_too(staff, auditor):
    assert auditor.get("/api/journal/entries/").status_code == 200

    roles.role_revoke(portal=staff, b24_user_id=AUDITOR, role="auditor", actor=SETUP)

    assert auditor.get("/api/journal/entries/").status_code == 403


def test_a_revoked_token_is_refused(staff):
    client = client_for(staff, AUDITOR)
    token_id = ApiToken.objects.get(portal=staff, b24_user_id=AUDITOR).pk

    roles.api_token_revoke(token_id=token_id, actor=SETUP)

    assert client.get("/api/journal/entries/").status_code == 401


def test_an_auditor_sees_only_their_portals_entries_with_status(
    staff, auditor, make_portal
):
    reveals(staff)
    reveals(make_portal(), leads=[7, 8])

    body = auditor.get("/api/journal/entries/").json()

    actions = [e["action"] for e in body["results"]]
    assert actions.count("lead.phone.revealed") == 3
    assert all(e["status"]["hash_valid"] for e in body["results"])
    assert all(e["status"]["linked"] for e in body["results"])
    assert body["results"][0]["seq"] == 1


def test_an_auditor_filters_by_lead_user_action_and_period(staff, auditor):
    reveals(staff)
    today = timezone.localdate().isoformat()

    def seqs(**params):
        response = auditor.get("/api/journal/entries/", params)
        assert response.status_code == 200, response.json()
        return [e["subject"] for e in response.json()["results"]]

    assert seqs(lead=1044) == ["lead#1044"]
    assert len(seqs(user=MANAGER)) == 3
    assert len(seqs(action="lead.*")) == 3
    assert len(seqs(action="role.assigned")) == 3
    assert len(seqs(date_from="2000-01-01", date_to="2000-01-31")) == 0
    everything = JournalEntry.objects.filter(portal=staff).count()
    assert len(seqs(date_from=today, date_to=today)) == everything == 7


def test_pages_follow_one_another_without_overlap(staff, auditor):
    reveals(staff, leads=range(1, 8))

    first = auditor.get("/api/journal/entries/", {"limit": 4}).json()
    second = auditor.get(
        "/api/journal/entries/", {"limit": 4, "after": first["next_after"]}
    ).json()

    seqs = [e["seq"] for e in first["results"] + second["results"]]
    assert seqs == sorted(set(seqs))
    assert len(seqs) == 8


def test_bad_filters_get_one_error_shape_naming_the_field(staff, auditor):
    response = auditor.get(
        "/api/journal/entries/", {"date_from": "yesterday", "limit": 9999}
    )

    assert_error_shape(response, 400, "invalid")
    assert set(response.json()["error"]["fields"]) == {"date_from", "limit"}


@pytest.mark.django_db(transaction=True)
def test_a_tampered_entry_shows_as_invalid_in_the_list_and_verify(staff, auditor):
    reveals(staff)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE compliance_journalentry DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE compliance_journalentry SET subject = 'lead#1' "
            "WHERE portal_id = %s AND subject = 'lead#1044'",
            [staff.pk],
        )
        cursor.execute("ALTER TABLE compliance_journalentry ENABLE TRIGGER USER")
    broken = JournalEntry.objects.get(portal=staff, subject="lead#1").seq

    listed = auditor.get("/api/journal/entries/").json()["results"]
    verified = auditor.get("/api/journal/verify/").json()

    assert [e["seq"] for e in listed if not e["status"]["hash_valid"]] == [broken]
    assert verified["ok"] is False
    assert verified["first_broken_seq"] == broken


def test_an_export_downloads_verifies_and_is_journaled(staff, auditor):
    reveals(staff)

    response = auditor.post("/api/journal/exports/", {"lead": 1043}, format="json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    bundle = b"".join(response.streaming_content)
    report = verify_bundle(bundle)
    assert report.ok, report.reason
    assert report.entries == 1
    exported = JournalEntry.objects.get(portal=staff, action="journal.exported")
    assert (exported.actor_kind, exported.actor_role) == ("api", "auditor")
    assert exported.actor_user_id == AUDITOR


def test_the_openapi_schema_lists_the_journal_api(staff):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/journal/entries/", "/api/journal/exports/"} <= set(paths)


def test_revealing_and_auditing_stay_with_different_people(staff):
    with pytest.raises(roles.RoleConflict):
        roles.role_assign(
            portal=staff, b24_user_id=MANAGER, role="auditor", actor=SETUP
        )


@pytest.mark.django_db(transaction=True)
def test_an_export_downloads_over_http(app_server, make_portal):
    portal = make_portal()
    roles.role_assign(portal=portal, b24_user_id=AUDITOR, role="auditor", actor=SETUP)
    token = roles.api_token_issue(portal=portal, b24_user_id=AUDITOR, actor=SETUP)
    reveals(portal)

    response = requests.post(
        f"{app_server.url}/api/journal/exports/",
        json={},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )

    assert response.status_code == 200, response.text
    assert verify_bundle(response.content).ok

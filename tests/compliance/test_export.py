import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from compliance import vault
from compliance.export import ExportFilters, journal_export
from compliance.journal import Actor, journal_record, subject_lead, verify_chain
from compliance.models import JournalEntry
from compliance.offline_verify import verify_bundle

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
AUDITOR = Actor.user(5, "auditor")
MANAGER = Actor.user(17, "revealer")
FORBIDDEN = ["Смирнова", "9001234567", "1234567", "9007654321", "234567"]


def lead_1043_story(portal):
    old = vault.pseudonym(portal, "+79001234567")
    new = vault.pseudonym(portal, "+79007654321")
    lead = subject_lead(1043)
    for action, details in [
        ("lead.phone.revealed", {"phone": old, "reason": "callback"}),
        ("lead.phone.changed", {"old": old, "new": new}),
        ("consent.withdrawn", {"channel": "openline"}),
        ("retention.destroyed", {"act": "act#1"}),
    ]:
        journal_record(
            portal=portal, action=action, actor=MANAGER, subject=lead, details=details
        )
    journal_record(
        portal=portal, action="lead.viewed", actor=MANAGER, subject=subject_lead(7)
    )


def export_bytes(portal, filters=None):
    out = io.BytesIO()
    journal_export(portal=portal, actor=AUDITOR, out=out, filters=filters)
    return out.getvalue()


def members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


def rebuilt(files):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return out.getvalue()


def test_a_full_export_verifies_offline(portal):
    lead_1043_story(portal)

    report = verify_bundle(export_bytes(portal))

    assert report.ok, report.reason
    assert report.entries == 6
    assert report.checkpoints_matched == 1


def test_the_export_is_itself_journaled_and_inside_the_bundle(portal):
    lead_1043_story(portal)
    data = export_bytes(portal, ExportFilters(lead_id=1043))

    exported = JournalEntry.objects.get(portal=portal, action="journal.exported")
    manifest = json.loads(members(data)["manifest.json"])

    assert exported.actor_user_id == 5
    assert json.loads(exported.details)["lead_id"] == 1043
    assert manifest["export_seq"] == exported.seq
    assert manifest["entries"] == 4
    assert manifest["contiguous"] is False
    assert verify_bundle(data).ok
    assert verify_chain(portal).ok


def test_no_file_of_the_bundle_holds_personal_data(portal):
    lead_1043_story(portal)

    files = members(export_bytes(portal))

    for name, data in files.items():
        text = data.decode()
        assert not any(word in text for word in FORBIDDEN), name
    assert b"lead#1043" in files["entries.csv"]


@pytest.mark.parametrize(
    "name",
    ["entries.jsonl", "entries.csv", "checkpoints.json", "manifest.json", "verify.py"],
)
def test_one_changed_byte_in_any_file_fails_verification(portal, name):
    lead_1043_story(portal)
    files = members(export_bytes(portal))
    data = bytearray(files[name])
    position = len(data) // 2
    data[position] = ord("0") if data[position] != ord("0") else ord("1")
    files[name] = bytes(data)

    report = verify_bundle(rebuilt(files))

    assert not report.ok


def test_one_changed_byte_in_the_zip_itself_fails_verification(portal):
    lead_1043_story(portal)
    data = export_bytes(portal)
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        info = bundle.getinfo("entries.jsonl")
    start = info.header_offset + 30 + len(info.filename) + 20

    for offset in range(start, start + info.compress_size - 20, 97):
        changed = bytearray(data)
        changed[offset] ^= 0xFF
        assert not verify_bundle(bytes(changed)).ok, offset


def test_an_edited_entry_is_named_even_with_a_fixed_manifest(portal):
    """Whoever edits an entry and re-hashes files still lacks the signing key."""
    lead_1043_story(portal)
    files = members(export_bytes(portal))
    lines = files["entries.jsonl"].decode().splitlines(keepends=True)
    lines[2] = lines[2].replace("lead#1043", "lead#1044")
    files["entries.jsonl"] = "".join(lines).encode()

    report = verify_bundle(rebuilt(files))

    assert not report.ok
    assert "manifest" in report.reason or "changed" in report.reason


def test_a_bundle_re_signed_by_another_key_is_refused_when_the_key_is_pinned(
    portal,
):
    """A forger may re-sign everything with their own key; pinning the id stops it."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from compliance import chain
    from compliance.offline_verify import checkpoint_message

    lead_1043_story(portal)
    files = members(export_bytes(portal))
    genuine = verify_bundle(rebuilt(files)).key_id
    forger = Ed25519PrivateKey.generate()
    manifest = json.loads(files["manifest.json"])
    checkpoints = json.loads(files["checkpoints.json"])
    forger_raw = forger.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    forger_id = hashlib.sha256(forger_raw).hexdigest()[:16]
    for cp in checkpoints:
        cp["key_id"] = forger_id
        message = checkpoint_message(manifest["portal"], cp)
        cp["signature"] = base64.b64encode(forger.sign(message)).decode()
    files["checkpoints.json"] = chain.dumps(checkpoints).encode()
    files["public_key.pem"] = forger.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    files["verification_keys.json"] = chain.dumps(
        {forger_id: base64.b64encode(forger_raw).decode()}
    ).encode()
    for name in ["checkpoints.json", "public_key.pem", "verification_keys.json"]:
        manifest["files"][name] = {
            "sha256": hashlib.sha256(files[name]).hexdigest(),
            "bytes": len(files[name]),
        }
    files["manifest.json"] = chain.dumps(manifest).encode()
    files["manifest.sig"] = base64.b64encode(forger.sign(files["manifest.json"]))
    forged = rebuilt(files)

    assert verify_bundle(forged).ok
    pinned = verify_bundle(forged, key_id=genuine)
    assert not pinned.ok
    assert "other than the one given" in pinned.reason


def test_the_command_line_verifier_runs_without_django(portal, tmp_path):
    lead_1043_story(portal)
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(export_bytes(portal))
    blocked = (
        "import sys, runpy; sys.modules['django'] = None; "
        f"sys.argv = ['verify', {str(bundle)!r}]; "
        "runpy.run_module('compliance.offline_verify', run_name='__main__')"
    )

    ok = subprocess.run(
        [sys.executable, "-c", blocked], cwd=REPO, capture_output=True, text=True
    )

    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.splitlines()[-1])["entries"] == 6


def test_the_bundled_verify_py_runs_outside_the_repository(portal, tmp_path):
    lead_1043_story(portal)
    data = export_bytes(portal)
    (tmp_path / "verify.py").write_bytes(members(data)["verify.py"])
    (tmp_path / "bundle.zip").write_bytes(data)
    (tmp_path / "broken.zip").write_bytes(data[:-200] + bytes(200))

    good = subprocess.run(
        [sys.executable, "verify.py", "bundle.zip"], cwd=tmp_path, capture_output=True
    )
    bad = subprocess.run(
        [sys.executable, "verify.py", "broken.zip"], cwd=tmp_path, capture_output=True
    )

    assert good.returncode == 0
    assert bad.returncode == 1


def test_no_log_line_holds_personal_data(portal, caplog):
    from compliance.journal import JournalError

    caplog.set_level("DEBUG")
    lead_1043_story(portal)
    export_bytes(portal)
    with pytest.raises(JournalError) as refused:
        journal_record(
            portal=portal,
            action="lead.phone.changed",
            actor=MANAGER,
            details={"new": "+7 900 765-43-21", "name": "Анна Смирнова"},
        )

    text = caplog.text + str(refused.value)
    assert not any(word in text for word in FORBIDDEN)


def test_a_portal_with_a_journal_cannot_be_deleted(portal):
    from django.db.models import ProtectedError

    lead_1043_story(portal)

    with pytest.raises(ProtectedError):
        portal.delete()


def test_checkpoints_signed_before_a_key_rotation_still_verify(portal):
    import base64

    from django.test import override_settings

    from compliance.journal import checkpoint_make

    old_key = base64.b64encode(bytes(range(32))).decode()
    new_key = base64.b64encode(bytes(range(1, 33))).decode()
    with override_settings(PDN_JOURNAL_SIGNING_KEY=old_key):
        lead_1043_story(portal)
        checkpoint_make(portal=portal)

    with override_settings(PDN_JOURNAL_SIGNING_KEY=f"{new_key},{old_key}"):
        assert verify_chain(portal).ok
        data = export_bytes(portal)
        report = verify_bundle(data)
    with override_settings(PDN_JOURNAL_SIGNING_KEY=new_key):
        forgotten = verify_chain(portal)

    assert report.ok, report.reason
    assert report.checkpoints_matched == 2
    ids = {cp["key_id"] for cp in json.loads(members(data)["checkpoints.json"])}
    assert len(ids) == 2
    assert not forgotten.ok
    assert "signature" in forgotten.reason

"""Check a journal export bundle without the server.

Run ``python -m compliance.offline_verify bundle.zip [--key-id <id>]``.

Needs Python 3.11 and ``cryptography``, nothing else; it can be copied out of
the repository (the bundle carries a copy as ``verify.py``). It checks, in
order: the Ed25519 signature of ``manifest.json``; the SHA-256 and size of
every file the manifest lists; the signature of every checkpoint; each
entry's hash, recomputed from its canonical JSON; the link from each entry
to the one before it; and that checkpoints agree with the entries they
cover. Pass ``--key-id`` (the 16 hex digits the operator published) so a
bundle re-signed with another key is refused. Exit status 0 means verified.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import zipfile
import zlib
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

FORMAT = "pdn-guard-journal-export/1"
GENESIS_HASH = "0" * 64
SIGNED_FILES = ("manifest.json", "manifest.sig")


@dataclass
class Report:
    ok: bool
    entries: int = 0
    first_broken_seq: int | None = None
    reason: str = ""
    key_id: str = ""
    checkpoints_matched: int = 0


class Broken(Exception):
    def __init__(self, reason: str, seq: int | None = None) -> None:
        super().__init__(reason)
        self.seq = seq


def canonical(payload: dict[str, Any]) -> bytes:
    """The reference canonical form: sorted keys, compact, UTF-8 kept."""
    text = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return text.encode()


def checkpoint_message(portal: str, cp: dict[str, Any]) -> bytes:
    return (
        f"pdn-guard-journal-checkpoint/1\n{portal}\n{int(cp['seq'])}\n"
        f"{cp['head_hash']}\n{cp['signed_at']}\n"
    ).encode()


def _verify_signature(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _file_digest(bundle: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with bundle.open(name) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check_files(bundle: zipfile.ZipFile, manifest: dict[str, Any]) -> None:
    listed = manifest["files"]
    present = set(bundle.namelist()) - set(SIGNED_FILES)
    if present != set(listed):
        raise Broken("the bundle's files differ from those its manifest lists")
    for name, expected in sorted(listed.items()):
        digest, size = _file_digest(bundle, name)
        if digest != expected["sha256"] or size != expected["bytes"]:
            raise Broken(f"{name} was changed after export")


def _check_entries(
    bundle: zipfile.ZipFile,
    manifest: dict[str, Any],
    checkpoints: dict[int, dict[str, Any]],
    report: Report,
) -> None:
    portal = manifest["portal"]
    previous_seq, previous_hash = None, None
    with bundle.open("entries.jsonl") as raw:
        for line in io.TextIOWrapper(raw, encoding="utf-8"):
            entry = json.loads(line)
            stored = entry.pop("entry_hash")
            seq = entry["seq"]
            if entry["portal"] != portal:
                raise Broken(f"entry {seq} belongs to another portal", seq)
            if previous_seq is not None and seq <= previous_seq:
                raise Broken(f"entry {seq} is out of order", seq)
            consecutive = previous_seq is not None and seq == previous_seq + 1
            if manifest["contiguous"] and previous_seq is not None and not consecutive:
                raise Broken(f"entry {previous_seq + 1} is missing", previous_seq + 1)
            if consecutive and entry["prev_hash"] != previous_hash:
                raise Broken(f"entry {seq} does not link to {seq - 1}", seq)
            if seq == 1 and entry["prev_hash"] != GENESIS_HASH:
                raise Broken("entry 1 does not start from the genesis hash", 1)
            digest = hashlib.sha256(canonical(entry)).hexdigest()
            if digest != stored:
                raise Broken(f"entry {seq} differs from what was written", seq)
            checkpoint = checkpoints.get(seq)
            if checkpoint is not None:
                if checkpoint["head_hash"] != digest:
                    raise Broken(f"checkpoint at {seq} disagrees with the chain", seq)
                report.checkpoints_matched += 1
            previous_seq, previous_hash = seq, digest
            report.entries += 1

    if report.entries != manifest["entries"]:
        raise Broken("the manifest counts a different number of entries")
    if report.entries and previous_seq != manifest["last_seq"]:
        raise Broken("the last entry is not the one the manifest names")


def verify_bundle(data: bytes | str, *, key_id: str = "") -> Report:
    """Check a bundle (its bytes or its path) and say where it first breaks."""
    report = Report(ok=False)
    try:
        source = io.BytesIO(data) if isinstance(data, bytes) else data
        with zipfile.ZipFile(source) as bundle:
            manifest_bytes = bundle.read("manifest.json")
            signature = base64.b64decode(bundle.read("manifest.sig"), validate=True)
            key = load_pem_public_key(bundle.read("public_key.pem"))
            if not isinstance(key, Ed25519PublicKey):
                raise Broken("public_key.pem is not an Ed25519 key")
            raw_key = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
            report.key_id = hashlib.sha256(raw_key).hexdigest()[:16]
            if key_id and key_id != report.key_id:
                raise Broken("the bundle is signed with a key other than the one given")
            if not _verify_signature(key, signature, manifest_bytes):
                raise Broken("manifest.json does not match its signature")
            manifest = json.loads(manifest_bytes)
            if manifest.get("format") != FORMAT:
                raise Broken("not a PDn Guard journal export")
            _check_files(bundle, manifest)

            # Older keys are trusted because the signed manifest lists them.
            trusted = {report.key_id: key}
            listed = json.loads(bundle.read("verification_keys.json"))
            for kid, encoded in listed.items():
                raw = base64.b64decode(encoded)
                if hashlib.sha256(raw).hexdigest()[:16] != kid:
                    raise Broken("verification_keys.json names a key by a wrong id")
                trusted.setdefault(kid, Ed25519PublicKey.from_public_bytes(raw))

            checkpoints = {}
            for cp in json.loads(bundle.read("checkpoints.json")):
                cp_signature = base64.b64decode(cp["signature"])
                message = checkpoint_message(manifest["portal"], cp)
                signer = trusted.get(cp["key_id"])
                if signer is None or not _verify_signature(
                    signer, cp_signature, message
                ):
                    raise Broken(f"checkpoint at {cp['seq']}: bad signature", cp["seq"])
                checkpoints[int(cp["seq"])] = cp
            _check_entries(bundle, manifest, checkpoints, report)
    except Broken as broken:
        report.reason, report.first_broken_seq = str(broken), broken.seq
        return report
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        KeyError,
        ValueError,
        TypeError,
        OSError,
    ) as exc:
        report.reason = f"the bundle cannot be read ({type(exc).__name__})"
        return report
    report.ok = True
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a PDn Guard journal export")
    parser.add_argument("bundle", help="the .zip file")
    parser.add_argument("--key-id", default="", help="the expected signing key id")
    args = parser.parse_args(argv)

    report = verify_bundle(args.bundle, key_id=args.key_id)
    if report.ok:
        print(f"OK: {report.entries} entries, key {report.key_id}")
    else:
        print(f"FAILED: {report.reason}")
    print(json.dumps(asdict(report), ensure_ascii=False))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Journal export bundles that an auditor verifies offline.

A bundle is a zip with ``entries.jsonl`` (one entry a line: its canonical
JSON plus ``entry_hash``), ``entries.csv`` (the same for spreadsheets),
``checkpoints.json``, ``public_key.pem`` (the key that signed the
manifest), ``verification_keys.json`` (every signing key still trusted, by
id, for checkpoints signed before a key rotation), ``verify.py`` (a copy of
``compliance.offline_verify``), ``manifest.json`` (filters, counts, range,
SHA-256 and size of every file) and ``manifest.sig`` (Ed25519 over the
manifest's bytes). Entries are streamed from the database twice, once per
format, so memory stays flat whatever the journal's size.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from compliance import chain, journal, offline_verify
from compliance.journal import Actor
from compliance.models import JournalCheckpoint
from integrator.models import Portal

CSV_COLUMNS = [*journal.ENTRY_FIELDS[:8], "prev_hash", "entry_hash"]


@dataclass(frozen=True)
class ExportFilters:
    date_from: datetime | None = None
    date_to: datetime | None = None
    user_id: int | None = None
    lead_id: int | None = None
    action: str | None = None

    @property
    def contiguous(self) -> bool:
        """Only a period was chosen, so the entries form an unbroken run of seq."""
        return self.user_id is None and self.lead_id is None and not self.action

    def as_details(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return chain.format_at(moment).lower() if moment else None

        return {
            "date_from": when(self.date_from),
            "date_to": when(self.date_to),
            "user_id": self.user_id,
            "lead_id": self.lead_id,
            "action": self.action,
        }


@dataclass(frozen=True)
class ExportSummary:
    entries: int
    first_seq: int | None
    last_seq: int | None
    export_seq: int
    sha256: dict[str, str]


class _HashingWriter:
    """Writes through to a zip member while counting bytes and hashing them."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.target.write(data)
        self.digest.update(data)
        self.size += len(data)

    def record(self) -> dict[str, Any]:
        return {"sha256": self.digest.hexdigest(), "bytes": self.size}


class _TextSink:
    """What ``csv.writer`` writes to: text in, UTF-8 bytes out."""

    def __init__(self, writer: _HashingWriter) -> None:
        self.writer = writer

    def write(self, text: str) -> int:
        self.writer.write(text.encode())
        return len(text)


def journal_export(
    *,
    portal: Portal,
    actor: Actor,
    out: IO[bytes],
    filters: ExportFilters | None = None,
) -> ExportSummary:
    """Journal the export, sign the head, and write the bundle to ``out``."""
    filters = filters or ExportFilters()
    with transaction.atomic():
        entry = journal.journal_record(
            portal=portal,
            action="journal.exported",
            actor=actor,
            details=filters.as_details(),
        )
        journal.checkpoint_make(portal=portal)

    selected = journal.journal_entries(
        portal=portal,
        date_from=filters.date_from,
        date_to=filters.date_to,
        user_id=filters.user_id,
        lead_id=filters.lead_id,
        action=filters.action,
    ).filter(seq__lte=entry.seq)
    files: dict[str, dict[str, Any]] = {}
    count, first_seq, last_seq = 0, None, None

    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bundle:
        with bundle.open("entries.jsonl", "w", force_zip64=True) as member:
            writer = _HashingWriter(member)
            rows = journal.selected_rows(selected)
            for row in rows:
                text = journal.row_canonical(portal.member_id, row)
                writer.write(text[:-1] + b',"entry_hash":"' + row[9].encode() + b'"}\n')
                count, last_seq = count + 1, row[0]
                first_seq = row[0] if first_seq is None else first_seq
            files["entries.jsonl"] = writer.record()

        with bundle.open("entries.csv", "w", force_zip64=True) as member:
            writer = _HashingWriter(member)
            table = csv.writer(_TextSink(writer))
            table.writerow(CSV_COLUMNS)
            rows = journal.selected_rows(selected)
            for row in rows:
                table.writerow([row[0], journal.at_text(row[1]), *row[2:]])
            files["entries.csv"] = writer.record()

        checkpoints = [
            {
                "seq": cp.seq,
                "head_hash": cp.head_hash,
                "signed_at": chain.format_at(cp.signed_at),
                "key_id": cp.key_id,
                "signature": cp.signature,
            }
            for cp in JournalCheckpoint.objects.filter(
                portal=portal, seq__lte=entry.seq
            ).order_by("seq")
        ]
        small = {
            "checkpoints.json": chain.dumps(checkpoints).encode(),
            "public_key.pem": journal.public_key_pem().encode(),
            "verification_keys.json": chain.dumps(
                {
                    kid: base64.b64encode(raw).decode()
                    for kid, raw in journal.verification_keys().items()
                }
            ).encode(),
            "verify.py": Path(offline_verify.__file__).read_bytes(),
        }
        for name, data in small.items():
            bundle.writestr(name, data)
            files[name] = {
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }

        manifest = {
            "format": offline_verify.FORMAT,
            "portal": portal.member_id,
            "exported_at": chain.format_at(timezone.now()),
            "exported_by": {
                "kind": actor.kind,
                "role": actor.role,
                "user_id": actor.user_id,
            },
            "export_seq": entry.seq,
            "filters": filters.as_details(),
            "contiguous": filters.contiguous,
            "entries": count,
            "first_seq": first_seq,
            "last_seq": last_seq,
            "key_id": journal.key_id(journal.public_key_raw()),
            "files": files,
        }
        manifest_bytes = chain.dumps(manifest).encode()
        bundle.writestr("manifest.json", manifest_bytes)
        signature = journal.signing_key().sign(manifest_bytes)
        bundle.writestr("manifest.sig", base64.b64encode(signature))

    return ExportSummary(
        entries=count,
        first_seq=first_seq,
        last_seq=last_seq,
        export_seq=entry.seq,
        sha256={name: f["sha256"] for name, f in files.items()},
    )

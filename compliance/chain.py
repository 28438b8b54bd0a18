"""The journal's canonical form and hashes, in plain Python (no Django).

An entry's hash is SHA-256 over the UTF-8 bytes of this JSON object, with
keys sorted, no spaces (separators ``,`` and ``:``) and non-ASCII characters
kept as they are (``ensure_ascii=False``)::

    {"action": "lead.phone.revealed",
     "actor": {"kind": "user", "role": "revealer", "user_id": 17},
     "at": "2026-12-03T15:43:17.123456Z",
     "details": {...},
     "portal": "<member_id>",
     "prev_hash": "<64 hex, or 64 zeros for the first entry>",
     "seq": 1,
     "subject": "lead#1043",
     "v": 1}

``at`` is UTC with exactly six fractional digits and a ``Z``. A checkpoint
signs the bytes of ``checkpoint_message`` with Ed25519. Verification on the
server uses this module; appends on PostgreSQL have the database build the
same bytes (``journal.APPEND_ONE_SQL``, only for text that needs no JSON
escaping), and the tests hold the two equal. The offline verifier uses
``json.dumps`` itself, the reference definition.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64


def dumps(value: Any) -> str:
    """Canonical JSON text: sorted keys, compact, UTF-8 characters kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_entry(
    *,
    portal: str,
    seq: int,
    at: str,
    action: str,
    actor_kind: str,
    actor_user_id: int | None,
    actor_role: str,
    subject: str,
    details_json: str,
    prev_hash: str,
) -> bytes:
    """The bytes an entry's hash covers; ``details_json`` must already be canonical.

    Assembled piece by piece rather than through one ``json.dumps`` because
    verification runs it a million times; ``canonical_payload`` is the
    reference definition and the tests hold the two equal.
    """
    return canonical_fields(
        portal,
        seq,
        at,
        action,
        actor_kind,
        actor_user_id,
        actor_role,
        subject,
        details_json,
        prev_hash,
    )


def canonical_fields(
    portal: str,
    seq: int,
    at: str,
    action: str,
    actor_kind: str,
    actor_user_id: int | None,
    actor_role: str,
    subject: str,
    details_json: str,
    prev_hash: str,
) -> bytes:
    """``canonical_entry`` with positional arguments, for the verification loop."""
    # encode_basestring is what json.dumps uses for a str with
    # ensure_ascii=False, without the encoder set-up around it.
    quote = encode_basestring
    user = "null" if actor_user_id is None else str(int(actor_user_id))
    return (
        f'{{"action":{quote(action)},"actor":{{"kind":{quote(actor_kind)},'
        f'"role":{quote(actor_role)},"user_id":{user}}},"at":{quote(at)},'
        f'"details":{details_json},"portal":{quote(portal)},'
        f'"prev_hash":{quote(prev_hash)},"seq":{int(seq)},'
        f'"subject":{quote(subject)},"v":{FORMAT_VERSION}}}'
    ).encode()


def canonical_payload(payload: dict[str, Any]) -> bytes:
    """The reference definition: canonical JSON of the whole payload."""
    return dumps(payload).encode()


def entry_hash(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


def checkpoint_message(
    *, portal: str, seq: int, head_hash: str, signed_at: str
) -> bytes:
    """What a checkpoint's Ed25519 signature covers."""
    return (
        f"pdn-guard-journal-checkpoint/{FORMAT_VERSION}\n"
        f"{portal}\n{int(seq)}\n{head_hash}\n{signed_at}\n"
    ).encode()

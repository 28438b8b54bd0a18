"""The access journal: one entry point that writes it, checkpoints, verification.

Every action on personal data is recorded with ``journal_record`` inside the
transaction of the action itself, so an action whose entry fails to write
is rolled back with it ("no entry, no reveal"). Entries name subjects by id
and pseudonym and actors by Bitrix24 user id and role; ``details`` accepts
codes only, and refuses anything that looks like a phone number, a name or
a long run of digits (152-FZ: the journal must not become a second copy of
the personal data it protects).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
)
from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from b24app import crypto
from compliance import chain
from compliance.models import JournalCheckpoint, JournalEntry, JournalHead
from integrator.models import Portal

ACTION_RE = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*){1,4}$")
ROLE_RE = re.compile(r"^[a-z][a-z_]{0,31}$")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Records the journal names by id. Bitrix24 ids grow past six digits, so a
# reference of a known kind may hold up to nine digits (ids stay below 10**9,
# as in details); a bare digit run, or a longer one that could be a phone, may not.
ENTITY_KINDS = (
    "lead|deal|contact|company|chat|message|dialog|run|act|archive|user|department"
)
ENTITY_REF = rf"\b(?:{ENTITY_KINDS})#\d{{1,9}}\b"
SUBJECT_RE = re.compile(
    rf"^(?:{ENTITY_REF}|phone:ph\d+:[0-9a-f]{{64}}|[a-z_]+:[a-z0-9_.\-]{{1,64}})?$"
)
# Detail values are codes: lower-case Latin letters, digits and punctuation
# used in identifiers. Cyrillic, spaces and capitals never pass, which keeps
# names and free text (where names hide) out of the journal.
CODE_RE = re.compile(r"^[a-z0-9_.:#/@+\-=,]{0,200}$")
# Long digit strings allowed because they are not personal data: pseudonyms,
# hashes, and real calendar dates (so ``9001-23-45`` is not one).
HARMLESS_DIGITS_RE = re.compile(
    ENTITY_REF + r"|ph\d+:[0-9a-f]{64}|\b[0-9a-f]{64}\b"
    r"|(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"(?:t\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:z|[+-]\d{2}:\d{2})?)?"
)
# Six or more digits, possibly split by phone punctuation: a phone number or
# a tail of one (``234567``), a passport, a card.
DIGIT_RUN_RE = re.compile(r"\d(?:[\s().\-]*\d){5,}")
MAX_DETAIL_INT = 10**9
ACTOR_KINDS = frozenset({"user", "api", "app", "system"})


# Labels for the codes in use, for pages that show the journal. Codes not
# listed are still accepted (a new feature journals before it is labelled).
ACTION_LABELS = {
    "portal.installed": _("Приложение установлено"),
    "portal.uninstalled": _("Приложение удалено"),
    "settings.changed": _("Настройки изменены"),
    "role.assigned": _("Роль назначена"),
    "role.revoked": _("Роль снята"),
    "api.token.issued": _("Выдан токен API"),
    "api.token.revoked": _("Токен API отозван"),
    "lead.phone.revealed": _("Телефон показан"),
    "lead.phone.reveal_refused": _("В раскрытии телефона отказано"),
    "lead.phone.protected": _("Телефон защищён"),
    "lead.phone.changed": _("Телефон изменён"),
    "lead.viewed": _("Лид просмотрен"),
    "consent.given": _("Согласие получено"),
    "consent.withdrawn": _("Согласие отозвано"),
    "retention.archived": _("Лид архивирован"),
    "retention.destroyed": _("Данные уничтожены"),
    "journal.exported": _("Журнал выгружен"),
    "vault.keys.rotated": _("Ключи шифрования заменены"),
}


class JournalError(ValueError):
    """An entry was refused; the message names the field, never its value."""


@dataclass(frozen=True)
class Actor:
    """Who acted, kept as a copy so the entry outlives the user's rows."""

    kind: str
    role: str
    user_id: int | None = None

    @classmethod
    def user(cls, user_id: int, role: str) -> Actor:
        return cls(kind="user", role=role, user_id=user_id)

    @classmethod
    def system(cls, role: str = "system") -> Actor:
        return cls(kind="system", role=role)

    def check(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise JournalError("actor.kind is not a known kind of actor")
        if not ROLE_RE.match(self.role):
            raise JournalError("actor.role must be a lower-case code")
        if self.user_id is not None and not 0 < self.user_id < MAX_DETAIL_INT:
            raise JournalError("actor.user_id must be a Bitrix24 user id")


def subject_lead(lead_id: int) -> str:
    return f"lead#{int(lead_id)}"


def subject_phone(phone_pseudonym: str) -> str:
    return f"phone:{phone_pseudonym}"


def _check_text(where: str, value: str) -> None:
    if not CODE_RE.match(value):
        raise JournalError(f"{where} must be a code (a-z, 0-9, _.:#/@+-=,)")
    if DIGIT_RUN_RE.search(HARMLESS_DIGITS_RE.sub("", value)):
        raise JournalError(f"{where} holds a long run of digits")


def _check_value(where: str, value: Any) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) >= MAX_DETAIL_INT:
            raise JournalError(f"{where} is a number too long to be an id")
        return
    if isinstance(value, str):
        _check_text(where, value)
        return
    if isinstance(value, list | tuple) and len(value) <= 100:
        for index, item in enumerate(value):
            if isinstance(item, list | tuple | dict):
                raise JournalError(f"{where}[{index}] must be a plain value")
            _check_value(f"{where}[{index}]", item)
        return
    raise JournalError(f"{where} must be a code, an id, a flag or a list of them")


def details_json(details: Mapping[str, Any] | None) -> str:
    """Checked, canonical JSON of an entry's details."""
    details = dict(details or {})
    if len(details) > 30:
        raise JournalError("details hold at most 30 keys")
    for key, value in details.items():
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise JournalError("details keys must be lower-case codes")
        _check_value(f"details.{key}", value)
    return chain.dumps(
        {k: list(v) if isinstance(v, tuple) else v for k, v in details.items()}
    )


LOCK_HEAD_SQL = (
    "SELECT last_seq, last_hash FROM compliance_journalhead WHERE portal_id = %s"
)
CREATE_HEAD_SQL = (
    "INSERT INTO compliance_journalhead (portal_id, last_seq, last_hash, updated_at)"
    " VALUES (%s, 0, %s, %s) ON CONFLICT (portal_id) DO NOTHING"
)
INSERT_ENTRY_SQL = (
    "INSERT INTO compliance_journalentry (portal_id, seq, at, action, actor_kind,"
    " actor_user_id, actor_role, subject, details, prev_hash, entry_hash)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
MOVE_HEAD_SQL = (
    "UPDATE compliance_journalhead SET last_seq = %s, last_hash = %s, updated_at = %s"
    " WHERE portal_id = %s"
)

# One statement for both on PostgreSQL, which runs data-changing CTEs.
APPEND_SQL = (
    "WITH entry AS ("
    "INSERT INTO compliance_journalentry (portal_id, seq, at, action, actor_kind,"
    " actor_user_id, actor_role, subject, details, prev_hash, entry_hash)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id) "
    "UPDATE compliance_journalhead SET last_seq = %s, last_hash = %s, updated_at = %s"
    " WHERE portal_id = %s RETURNING (SELECT id FROM entry)"
)


# Text that is its own JSON string body: no quote, backslash or control
# character, so the database can build the canonical form by concatenation.
PLAIN_RE = re.compile(r"^[A-Za-z0-9_.:#/@+\-=, ]*$")

# The whole append in one statement: lock the head, build the canonical
# form (the same bytes as chain.canonical_entry, for plain text), hash it,
# insert the entry and move the head. One round trip, so the head is
# locked for as short a time as a durable commit allows. FOR UPDATE in
# READ COMMITTED returns the newest head once a concurrent writer commits.
APPEND_ONE_SQL = """
WITH head AS (
    SELECT last_seq, last_hash FROM compliance_journalhead
    WHERE portal_id = %(portal)s FOR UPDATE
), draft AS (
    SELECT head.last_seq + 1 AS seq, head.last_hash AS prev_hash, moment AS at,
        '{"action":"' || %(action)s::text
        || '","actor":{"kind":"' || %(kind)s::text
        || '","role":"' || %(role)s::text
        || '","user_id":' || COALESCE(%(user_id)s::bigint::text, 'null')
        || '},"at":"'
        || to_char(moment AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","details":' || %(details)s::text
        || ',"portal":"' || %(member_id)s::text
        || '","prev_hash":"' || head.last_hash
        || '","seq":' || (head.last_seq + 1)::text
        || ',"subject":"' || %(subject)s::text
        || '","v":1}' AS canonical
    FROM head, clock_timestamp() AS moment
), entry AS (
    INSERT INTO compliance_journalentry (portal_id, seq, at, action, actor_kind,
        actor_user_id, actor_role, subject, details, prev_hash, entry_hash)
    SELECT %(portal)s, seq, at, %(action)s, %(kind)s, %(user_id)s, %(role)s,
        %(subject)s, %(details)s, prev_hash,
        encode(sha256(convert_to(canonical, 'UTF8')), 'hex')
    FROM draft
    RETURNING id, seq, at, prev_hash, entry_hash
)
UPDATE compliance_journalhead
SET last_seq = entry.seq, last_hash = entry.entry_hash, updated_at = entry.at
FROM entry WHERE compliance_journalhead.portal_id = %(portal)s
RETURNING entry.id, entry.seq, entry.at, entry.prev_hash, entry.entry_hash
"""


def _append_in_one_statement(
    connection: Any,
    portal: Portal,
    action: str,
    actor: Actor,
    subject: str,
    details_text: str,
) -> tuple[int, int, datetime, str, str]:
    """Append on PostgreSQL in one round trip, in the caller's transaction if any."""
    params = {
        "portal": portal.pk,
        "member_id": portal.member_id,
        "action": action,
        "kind": actor.kind,
        "role": actor.role,
        "user_id": actor.user_id,
        "subject": subject,
        "details": details_text,
    }
    with _append_cursor(connection) as cursor:
        cursor.execute(APPEND_ONE_SQL, params)
        row = cursor.fetchone()
        if row is None:
            # The portal's first entry: create its head, then append.
            cursor.execute(
                CREATE_HEAD_SQL, [portal.pk, chain.GENESIS_HASH, timezone.now()]
            )
            cursor.execute(APPEND_ONE_SQL, params)
            row = cursor.fetchone()
    entry_id, seq, at, prev_hash, digest = row
    return int(entry_id), int(seq), at, str(prev_hash), str(digest)


@contextlib.contextmanager
def _append_cursor(connection: Any) -> Iterator[Any]:
    """A cursor for appends; on PostgreSQL one that binds on the server.

    Server-side binding lets psycopg prepare the two statements once per
    connection instead of composing and parsing them on every append.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as raw:
        yield raw


def _lock_head(cursor: Any, portal: Portal, *, for_update: str) -> tuple[int, str]:
    # The head row is the per-portal lock: two writers appending at once
    # would otherwise both take seq N+1 and both link to entry N.
    cursor.execute(LOCK_HEAD_SQL + for_update, [portal.pk])
    row = cursor.fetchone()
    if row is None:
        cursor.execute(CREATE_HEAD_SQL, [portal.pk, chain.GENESIS_HASH, timezone.now()])
        cursor.execute(LOCK_HEAD_SQL + for_update, [portal.pk])
        row = cursor.fetchone()
    return int(row[0]), str(row[1])


def journal_record(
    *,
    portal: Portal,
    action: str,
    actor: Actor,
    subject: str = "",
    details: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """Append one entry to the portal's journal, in the caller's transaction.

    Call it inside the ``transaction.atomic()`` of the action it records;
    outside one, the entry commits on its own. On PostgreSQL the append is
    one statement; elsewhere (SQLite in development) two, hashed in Python.
    """
    if not ACTION_RE.match(action):
        raise JournalError("action must be a dotted code such as lead.phone.revealed")
    actor.check()
    if not SUBJECT_RE.match(subject):
        raise JournalError("subject must look like lead#1043 or phone:ph1:<hex>")
    _check_text("subject", subject)
    details_text = details_json(details)

    connection = connections[router.db_for_write(JournalEntry)]
    if connection.vendor == "postgresql" and PLAIN_RE.match(portal.member_id):
        entry_id, seq, at, prev_hash, digest = _append_in_one_statement(
            connection, portal, action, actor, subject, details_text
        )
        entry = JournalEntry(
            id=entry_id,
            portal=portal,
            seq=seq,
            at=at,
            action=action,
            actor_kind=actor.kind,
            actor_user_id=actor.user_id,
            actor_role=actor.role,
            subject=subject,
            details=details_text,
            prev_hash=prev_hash,
            entry_hash=digest,
        )
        entry._state.adding = False
        entry._state.db = connection.alias
        return entry

    # Plain SQL, two round trips on PostgreSQL: the head stays locked until
    # the caller commits, so every statement here is time other writers of
    # this portal wait. No savepoint either: if the entry fails, the
    # caller's whole transaction must fail with it.
    postgresql = connection.vendor == "postgresql"
    atomic = transaction.atomic(using=connection.alias, savepoint=False)
    with atomic, _append_cursor(connection) as cursor:
        last_seq, prev_hash = _lock_head(
            cursor, portal, for_update=" FOR UPDATE" if postgresql else ""
        )
        seq, at = last_seq + 1, timezone.now()
        canonical = chain.canonical_entry(
            portal=portal.member_id,
            seq=seq,
            at=chain.format_at(at),
            action=action,
            actor_kind=actor.kind,
            actor_user_id=actor.user_id,
            actor_role=actor.role,
            subject=subject,
            details_json=details_text,
            prev_hash=prev_hash,
        )
        digest = chain.entry_hash(canonical)
        values: list[Any] = [
            portal.pk,
            seq,
            at,
            action,
            actor.kind,
            actor.user_id,
            actor.role,
            subject,
            details_text,
            prev_hash,
            digest,
        ]
        move: list[Any] = [seq, digest, at, portal.pk]
        if postgresql:
            cursor.execute(APPEND_SQL, values + move)
            entry_id = cursor.fetchone()[0]
        else:
            cursor.execute(INSERT_ENTRY_SQL, values)
            entry_id = cursor.lastrowid
            cursor.execute(MOVE_HEAD_SQL, move)

    entry = JournalEntry(
        id=entry_id,
        portal=portal,
        seq=seq,
        at=at,
        action=action,
        actor_kind=actor.kind,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        subject=subject,
        details=details_text,
        prev_hash=prev_hash,
        entry_hash=digest,
    )
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


# --- Checkpoints -----------------------------------------------------------


@functools.cache
def _signing_keys(configured: str, master_keys: str) -> tuple[Ed25519PrivateKey, ...]:
    if not configured:
        # Development and tests only: production refuses to start without one.
        raw = crypto.derive_key("journal-signing")
        return (Ed25519PrivateKey.from_private_bytes(raw),)
    keys = []
    for part in configured.split(","):
        raw = base64.b64decode(part.strip())
        if len(raw) != 32:
            raise crypto.CryptoError(
                "PDN_JOURNAL_SIGNING_KEY holds 32-byte base64 keys"
            )
        keys.append(Ed25519PrivateKey.from_private_bytes(raw))
    return tuple(keys)


def signing_key() -> Ed25519PrivateKey:
    """The key that signs now: the first of ``PDN_JOURNAL_SIGNING_KEY``.

    Older keys may follow it, comma-separated; they sign nothing new but
    still verify the checkpoints they signed.
    """
    return _signing_keys(settings.PDN_JOURNAL_SIGNING_KEY, settings.PDN_MASTER_KEYS)[0]


def verification_keys() -> dict[str, bytes]:
    """Every known public key (raw bytes) by key id, the current one first."""
    keys = _signing_keys(settings.PDN_JOURNAL_SIGNING_KEY, settings.PDN_MASTER_KEYS)
    raws = [k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) for k in keys]
    return {key_id(raw): raw for raw in raws}


def public_key_raw() -> bytes:
    return signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_pem() -> str:
    pem = (
        signing_key()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    return pem.decode()


def key_id(raw_public_key: bytes) -> str:
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def checkpoint_make(*, portal: Portal) -> JournalCheckpoint | None:
    """Sign the portal's current head; None when there is nothing new to sign."""
    head = JournalHead.objects.filter(portal=portal).first()
    if head is None or head.last_seq == 0:
        return None
    if JournalCheckpoint.objects.filter(portal=portal, seq=head.last_seq).exists():
        return None

    signed_at = timezone.now()
    message = chain.checkpoint_message(
        portal=portal.member_id,
        seq=head.last_seq,
        head_hash=head.last_hash,
        signed_at=chain.format_at(signed_at),
    )
    checkpoint = JournalCheckpoint(
        portal=portal,
        seq=head.last_seq,
        head_hash=head.last_hash,
        signed_at=signed_at,
        key_id=key_id(public_key_raw()),
        signature=base64.b64encode(signing_key().sign(message)).decode(),
    )
    try:
        # Two schedulers may sign the same head; the unique (portal, seq)
        # constraint keeps one and the other steps aside.
        with transaction.atomic():
            checkpoint.save(force_insert=True)
    except IntegrityError:
        return None
    return checkpoint


def checkpoint_signature_ok(checkpoint: JournalCheckpoint, member_id: str) -> bool:
    message = chain.checkpoint_message(
        portal=member_id,
        seq=checkpoint.seq,
        head_hash=checkpoint.head_hash,
        signed_at=chain.format_at(checkpoint.signed_at),
    )
    raw = verification_keys().get(checkpoint.key_id)
    if raw is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(
            base64.b64decode(checkpoint.signature), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True


# --- Verification ----------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_broken_seq: int | None = None
    reason: str = ""
    checkpoints: int = 0


ENTRY_FIELDS = (
    "seq",
    "at",
    "action",
    "actor_kind",
    "actor_user_id",
    "actor_role",
    "subject",
    "details",
    "prev_hash",
    "entry_hash",
)


# ``at`` as PostgreSQL's own text of the UTC time: parsing a million
# timestamps into datetimes costs seconds, and to_char() costs the server
# twice what its plain text output does. ``at_text`` finishes the format.
AT_TEXT_SQL = "(compliance_journalentry.at AT TIME ZONE 'UTC')::text"


def entry_rows(
    portal: Portal, *, up_to_seq: int | None = None, chunk_size: int = 10000
) -> Iterable[tuple[Any, ...]]:
    """The portal's entries in seq order as tuples of ``ENTRY_FIELDS``, streamed.

    ``at`` comes as the canonical text on PostgreSQL, a datetime elsewhere;
    ``at_text`` accepts both.
    """
    rows = JournalEntry.objects.filter(portal=portal)
    if up_to_seq is not None:
        rows = rows.filter(seq__lte=up_to_seq)
    return selected_rows(rows, chunk_size=chunk_size)


def selected_rows(
    entries: QuerySet[JournalEntry], *, chunk_size: int = 10000
) -> Iterator[tuple[Any, ...]]:
    """Rows of a queryset of entries, as ``entry_rows`` streams them."""
    fields = list(ENTRY_FIELDS)
    connection = connections[entries.db]
    if connection.vendor != "postgresql":
        return entries.order_by("seq").values_list(*fields).iterator(chunk_size)

    # A constant expression, no outside input.
    entries = entries.annotate(at_text=RawSQL(AT_TEXT_SQL, ()))  # noqa: S611
    fields[1] = "at_text"
    return entries.order_by("seq").values_list(*fields).iterator(chunk_size)


def at_text(value: str | datetime) -> str:
    """The canonical ``at`` of a datetime, or of PostgreSQL's UTC text of one.

    PostgreSQL writes ``2026-12-03 15:43:17.1234``, trimming the fraction's
    trailing zeros (and the dot, for whole seconds).
    """
    if isinstance(value, datetime):
        return chain.format_at(value)
    return f"{value[:10]}T{value[11:19]}.{value[20:]:0<6}Z"


def row_canonical(member_id: str, row: tuple[Any, ...]) -> bytes:
    seq, at, action, kind, user_id, role, subject, details, prev_hash, _ = row
    return chain.canonical_entry(
        portal=member_id,
        seq=seq,
        at=at_text(at),
        action=action,
        actor_kind=kind,
        actor_user_id=user_id,
        actor_role=role,
        subject=subject,
        details_json=details,
        prev_hash=prev_hash,
    )


def verify_chain(portal: Portal, *, chunk_size: int = 10000) -> VerifyResult:
    """Recompute the portal's chain and compare it with the head and checkpoints."""
    checkpoints = {cp.seq: cp for cp in JournalCheckpoint.objects.filter(portal=portal)}
    for seq in sorted(checkpoints):
        if not checkpoint_signature_ok(checkpoints[seq], portal.member_id):
            return VerifyResult(False, 0, seq, f"checkpoint at {seq}: bad signature")

    member_id = portal.member_id
    canonical, sha256 = chain.canonical_fields, hashlib.sha256
    expected, prev, count = 1, chain.GENESIS_HASH, 0
    for row in entry_rows(portal, chunk_size=chunk_size):
        seq, at, action, kind, user_id, role, subject, details, prev_hash, stored = row
        if seq != expected:
            return VerifyResult(
                False, count, expected, f"entry {expected} is missing", len(checkpoints)
            )
        if prev_hash != prev:
            return VerifyResult(
                False, count, seq, f"entry {seq} does not link to {seq - 1}"
            )
        digest = sha256(
            canonical(
                member_id,
                seq,
                at_text(at),
                action,
                kind,
                user_id,
                role,
                subject,
                details,
                prev_hash,
            )
        ).hexdigest()
        if digest != stored:
            return VerifyResult(
                False, count, seq, f"entry {seq} differs from what was written"
            )
        checkpoint = checkpoints.get(seq)
        if checkpoint is not None and checkpoint.head_hash != digest:
            return VerifyResult(
                False, count, seq, f"checkpoint at {seq} disagrees with the chain"
            )
        prev, expected, count = digest, expected + 1, count + 1

    beyond = [seq for seq in checkpoints if seq > count]
    if beyond:
        return VerifyResult(
            False, count, count + 1, f"entries after {count} are missing (checkpoint)"
        )
    head = JournalHead.objects.filter(portal=portal).first()
    head_seq = head.last_seq if head else 0
    head_hash = head.last_hash if head else chain.GENESIS_HASH
    if head_seq != count:
        return VerifyResult(
            False, count, count + 1, f"entries after {count} are missing (head)"
        )
    if head_hash != prev:
        return VerifyResult(False, count, count, f"head disagrees with entry {count}")
    return VerifyResult(True, count, None, "", len(checkpoints))


# --- Reading ---------------------------------------------------------------


def journal_entries(
    *,
    portal: Portal,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    user_id: int | None = None,
    lead_id: int | None = None,
    action: str | None = None,
) -> QuerySet[JournalEntry]:
    """Entries of one portal, filtered; ``date_to`` is exclusive, ``a.b.*`` a prefix."""
    entries = JournalEntry.objects.filter(portal=portal)
    if date_from is not None:
        entries = entries.filter(at__gte=date_from)
    if date_to is not None:
        entries = entries.filter(at__lt=date_to)
    if user_id is not None:
        entries = entries.filter(actor_user_id=user_id)
    if lead_id is not None:
        entries = entries.filter(subject=subject_lead(lead_id))
    if action:
        if action.endswith(".*"):
            entries = entries.filter(action__startswith=action[:-1])
        else:
            entries = entries.filter(action=action)
    return entries.order_by("seq")


@dataclass(frozen=True)
class EntryStatus:
    hash_valid: bool
    linked: bool
    checkpoint_seq: int | None


def entry_statuses(
    portal: Portal, entries: list[JournalEntry]
) -> dict[int, EntryStatus]:
    """Per-entry checks cheap enough for a page of results.

    An entry is ``hash_valid`` when its stored hash matches its content,
    ``linked`` when it points at the stored hash of the entry before it, and
    covered by the first checkpoint at or after it. A full ``verify_chain``
    is what proves the whole journal.
    """
    wanted = {e.seq - 1 for e in entries if e.seq > 1}
    known = {e.seq: e.entry_hash for e in entries}
    missing = wanted - known.keys()
    if missing:
        previous = JournalEntry.objects.filter(portal=portal, seq__in=missing)
        known.update(previous.values_list("seq", "entry_hash"))
    checkpoint_seqs = sorted(
        JournalCheckpoint.objects.filter(portal=portal).values_list("seq", flat=True)
    )

    statuses = {}
    for entry in entries:
        row = tuple(getattr(entry, name) for name in ENTRY_FIELDS)
        digest = chain.entry_hash(row_canonical(portal.member_id, row))
        before = chain.GENESIS_HASH if entry.seq == 1 else known.get(entry.seq - 1)
        covering = next((s for s in checkpoint_seqs if s >= entry.seq), None)
        statuses[entry.seq] = EntryStatus(
            hash_valid=digest == entry.entry_hash,
            linked=before == entry.prev_hash,
            checkpoint_seq=covering,
        )
    return statuses


def details_of(entry: JournalEntry) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(entry.details)
    return value

"""Archives of deleted leads: encrypted under a key of their own, restorable, shredded.

Each archive gets a fresh random key, kept sealed under the master key in
``ArchiveKey``. Purging deletes that key and blanks the payload: what is left
is the non-personal metadata the destruction act needs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet
from django.db import transaction
from django.utils import timezone

from b24app import crypto
from compliance.journal import Actor, journal_record, subject_lead
from compliance.retention.models import ArchivedLead, ArchiveKey, RunLead
from integrator.models import Portal
from integrator.rest import portal_client

logger = logging.getLogger(__name__)

MULTIFIELDS = ("PHONE", "EMAIL", "WEB", "IM")
# Fields crm.lead.add accepts back; read-only and computed fields stay out.
RESTORABLE = (
    "TITLE",
    "HONORIFIC",
    "NAME",
    "SECOND_NAME",
    "LAST_NAME",
    "BIRTHDATE",
    "COMPANY_TITLE",
    "SOURCE_ID",
    "SOURCE_DESCRIPTION",
    "STATUS_ID",
    "STATUS_DESCRIPTION",
    "POST",
    "ADDRESS",
    "ADDRESS_2",
    "ADDRESS_CITY",
    "ADDRESS_POSTAL_CODE",
    "ADDRESS_REGION",
    "ADDRESS_PROVINCE",
    "ADDRESS_COUNTRY",
    "CURRENCY_ID",
    "OPPORTUNITY",
    "COMMENTS",
    "ASSIGNED_BY_ID",
    "OPENED",
)
# Categories of personal data named in the act (order No. 179 item д).
CATEGORY_FIELDS = {
    "full_name": ("NAME", "SECOND_NAME", "LAST_NAME", "HONORIFIC"),
    "phone": ("PHONE",),
    "email": ("EMAIL",),
    "messenger_ids": ("IM",),
    "web": ("WEB",),
    "birthdate": ("BIRTHDATE",),
    "address": ("ADDRESS", "ADDRESS_2", "ADDRESS_CITY", "ADDRESS_POSTAL_CODE"),
    "job_title": ("POST", "COMPANY_TITLE"),
    "request_text": ("TITLE", "COMMENTS", "SOURCE_DESCRIPTION"),
}
CATEGORY_LABELS = {
    "full_name": "фамилия, имя, отчество",
    "phone": "номер телефона",
    "email": "адрес электронной почты",
    "messenger_ids": "идентификаторы в мессенджерах",
    "web": "адреса сайтов и страниц",
    "birthdate": "дата рождения",
    "address": "адрес",
    "job_title": "место работы и должность",
    "request_text": "текст обращения",
    "comments": "комментарии в ленте лида",
    "user_fields": "дополнительные поля лида",
}


class ArchiveError(Exception):
    """An archive cannot be opened or restored; the message names no data."""


def _key_purpose(portal: Portal) -> str:
    return f"retention-archive:{portal.member_id}"


def categories_of(fields: Mapping[str, Any], comments: Sequence[Any]) -> list[str]:
    """Codes of the personal-data categories a lead actually holds."""
    found = []
    for code, names in CATEGORY_FIELDS.items():
        if any(_present(fields.get(name)) for name in names):
            found.append(code)
    if comments:
        found.append("comments")
    if any(k.startswith("UF_CRM_") and _present(v) for k, v in fields.items()):
        found.append("user_fields")
    return found


def _present(value: Any) -> bool:
    if isinstance(value, list | dict):
        return bool(value)
    return value not in (None, "", "0", "0.00", 0)


def full_name(fields: Mapping[str, Any]) -> str:
    parts = [fields.get(n) for n in ("LAST_NAME", "NAME", "SECOND_NAME")]
    return " ".join(str(p).strip() for p in parts if p and str(p).strip())


def archive_prepare(
    *,
    run_lead: RunLead,
    fields: Mapping[str, Any],
    comments: Sequence[Mapping[str, Any]],
    purge_after: datetime,
) -> tuple[ArchiveKey, ArchivedLead]:
    """A new key and the lead's data encrypted under it, both not yet saved."""
    portal = run_lead.portal
    raw_key = Fernet.generate_key()
    key = ArchiveKey(
        portal=portal,
        sealed=crypto.seal(raw_key.decode(), purpose=_key_purpose(portal)),
    )
    document = {"lead": dict(fields), "comments": [dict(c) for c in comments]}
    payload = Fernet(raw_key).encrypt(json.dumps(document, ensure_ascii=False).encode())
    archived = ArchivedLead(
        run_lead=run_lead,
        portal=portal,
        lead_id=run_lead.lead_id,
        payload=payload.decode(),
        comment_count=len(comments),
        purge_after=purge_after,
    )
    return key, archived


def archive_save_all(prepared: Sequence[tuple[ArchiveKey, ArchivedLead]]) -> None:
    """Save prepared archives with their keys: two statements for a whole group."""
    keys = ArchiveKey.objects.bulk_create([key for key, _archived in prepared])
    for key, (_unsaved, archived) in zip(keys, prepared, strict=True):
        archived.key = key
    ArchivedLead.objects.bulk_create([archived for _key, archived in prepared])


def archive_store(
    *,
    run_lead: RunLead,
    fields: Mapping[str, Any],
    comments: Sequence[Mapping[str, Any]],
    purge_after: datetime,
) -> ArchivedLead:
    """Encrypt one lead's data under a new key; in the caller's transaction."""
    prepared = archive_prepare(
        run_lead=run_lead, fields=fields, comments=comments, purge_after=purge_after
    )
    archive_save_all([prepared])
    return prepared[1]


def archive_open(archived: ArchivedLead) -> dict[str, Any]:
    """The archived document; ArchiveError once its key is destroyed."""
    if archived.key is None or not archived.payload:
        raise ArchiveError("the archive has been destroyed")
    portal = archived.portal
    raw_key = crypto.unseal(archived.key.sealed, purpose=_key_purpose(portal))
    data = Fernet(raw_key.encode()).decrypt(archived.payload.encode())
    document: dict[str, Any] = json.loads(data)
    return document


def archive_destroy(archived: ArchivedLead) -> None:
    """Delete the key and the ciphertext; the metadata row stays for the act."""
    key_id = archived.key_id
    archived.key = None
    archived.payload = ""
    archived.purged_at = timezone.now()
    archived.save(update_fields=["key", "payload", "purged_at"])
    if key_id is not None:
        ArchiveKey.objects.filter(pk=key_id).delete()


def archive_destroy_all(run_lead_ids: Sequence[int]) -> int:
    """Destroy the archives of these run leads: keys deleted, ciphertext blanked."""
    archives = ArchivedLead.objects.filter(run_lead_id__in=list(run_lead_ids))
    key_ids = [k for k in archives.values_list("key_id", flat=True) if k is not None]
    archives.update(key=None, payload="", purged_at=timezone.now())
    ArchiveKey.objects.filter(pk__in=key_ids).delete()
    return len(key_ids)


def restore_fields(lead: Mapping[str, Any]) -> dict[str, Any]:
    """crm.lead.add fields from an archived crm.lead.get answer."""
    fields: dict[str, Any] = {
        name: lead[name] for name in RESTORABLE if _present(lead.get(name))
    }
    for name in MULTIFIELDS:
        items = lead.get(name) or []
        values = [
            {"VALUE": item.get("VALUE"), "VALUE_TYPE": item.get("VALUE_TYPE", "WORK")}
            for item in items
            if isinstance(item, Mapping) and item.get("VALUE")
        ]
        if values:
            fields[name] = values
    for name, value in lead.items():
        if name.startswith("UF_CRM_") and _present(value):
            fields[name] = value
    return fields


def archive_restore(*, archived_id: int, user_id: int) -> int:
    """Bring an archived lead back into Bitrix24 during the grace; the new lead id.

    The archive row is locked for the whole restore, so two clicks make one
    lead; the new id is stored before the lock is let go.
    """
    with transaction.atomic():
        archived = (
            ArchivedLead.objects.select_for_update(of=("self",))
            .select_related("portal", "key", "run_lead")
            .get(pk=archived_id)
        )
        if archived.restored_lead_id is not None:
            return archived.restored_lead_id
        document = archive_open(archived)
        portal = archived.portal
        client = portal_client(portal)
        new_id = int(
            client.call("crm.lead.add", {"fields": restore_fields(document["lead"])})
        )
        commands = {
            f"c{n}": (
                "crm.timeline.comment.add",
                {
                    "fields": {
                        "ENTITY_ID": new_id,
                        "ENTITY_TYPE": "lead",
                        "COMMENT": str(comment.get("COMMENT") or ""),
                    }
                },
            )
            for n, comment in enumerate(document.get("comments", []))
            if str(comment.get("COMMENT") or "").strip()
        }
        if commands:
            outcome = client.batch(commands)
            if outcome.errors or outcome.missing:
                logger.warning(
                    "retention restore member_id=%s lost %d comments",
                    portal.member_id,
                    len(outcome.errors) + len(outcome.missing),
                )

        archived.restored_lead_id = new_id
        archived.restored_at = timezone.now()
        archived.restored_by_user_id = user_id
        archived.save(
            update_fields=["restored_lead_id", "restored_at", "restored_by_user_id"]
        )
        RunLead.objects.filter(pk=archived.run_lead_id).update(
            state=RunLead.State.RESTORED
        )
        journal_record(
            portal=portal,
            action="retention.lead.restored",
            actor=Actor.user(user_id, "admin"),
            subject=subject_lead(archived.lead_id),
            details={"new_lead": subject_lead(new_id)},
        )
        archive_destroy(archived)
    return new_id

"""Consent documents: one per purpose, versioned, frozen, each with its SHA-256.

Since 1 September 2025 (152-FZ art. 9 part 1 as amended by 156-FZ) consent
is a document of its own: never part of an offer, a policy or another
consent. So every purpose has its own text and its own public page. The
default texts are filled from ``ConsentSettings`` and carry what part 4 of
art. 9 requires of a consent: the operator's name and address, the purpose,
the data, the processors, the actions and methods, the term, how to
withdraw. Editing a text publishes a new version; old versions stay as they
were, because answers point at them. A version that names a processor the
previous one did not makes the consents given under the old text stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse

from compliance.consent import ledger
from compliance.consent.models import ConsentDocument, ConsentSettings, Purpose
from compliance.journal import Actor, journal_record
from integrator.models import Portal

MAX_TEXT = 20_000
PROCESSOR_KEYS = ("name", "address", "role")


class DocumentError(ValueError):
    """A text or a setting cannot be published; the message says which."""


def normalise_text(text: str) -> str:
    """One writing of a text, so that its hash does not depend on line endings."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip() + "\n"


def text_sha256(text: str) -> str:
    return hashlib.sha256(normalise_text(text).encode()).hexdigest()


def settings_for(portal: Portal) -> ConsentSettings:
    """The portal's consent settings, created with defaults on first use."""
    found, _ = ConsentSettings.objects.get_or_create(portal=portal)
    return found


def clean_processors(raw: Any) -> list[dict[str, str]]:
    """Processors as ``[{name, address, role}]``; a clear error for anything else."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise DocumentError("processors must be a list")
    cleaned = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise DocumentError(f"processor {index + 1} must be an object")
        row = {key: str(item.get(key) or "").strip() for key in PROCESSOR_KEYS}
        if not row["name"]:
            raise DocumentError(f"processor {index + 1} needs a name")
        if any(len(value) > 500 for value in row.values()):
            raise DocumentError(f"processor {index + 1} is too long")
        cleaned.append(row)
    return cleaned


def operator_snapshot(consent_settings: ConsentSettings) -> dict[str, str]:
    return {
        "name": consent_settings.operator_name,
        "address": consent_settings.operator_address,
        "inn": consent_settings.inn,
        "ogrn": consent_settings.ogrn,
    }


def default_text(consent_settings: ConsentSettings, purpose: str) -> str:
    """The default Russian text of one purpose, filled from the settings."""
    if purpose not in Purpose.values:
        raise DocumentError("unknown purpose")
    context = {
        "s": consent_settings,
        "processors": clean_processors(consent_settings.processors),
        "purpose_text": _own_wording(consent_settings.purpose_texts, purpose),
        "data_list": _own_wording(consent_settings.data_lists, purpose),
    }
    text = render_to_string(f"consent/texts/{purpose}.txt", context)
    return normalise_text(text)


def _own_wording(wordings: Any, purpose: str) -> str:
    value = wordings.get(purpose) if isinstance(wordings, Mapping) else None
    return str(value).strip().rstrip(".") if value else ""


def clean_wordings(raw: Any) -> dict[str, str]:
    """``{purpose: text}`` for known purposes, each at most 1000 characters."""
    if not isinstance(raw, Mapping):
        raise DocumentError("purpose texts and data lists are maps by purpose")
    cleaned = {}
    for purpose, text in raw.items():
        if purpose not in Purpose.values:
            raise DocumentError("unknown purpose")
        if not isinstance(text, str) or len(text) > 1000:
            raise DocumentError(f"the wording for {purpose} must be text")
        if text.strip():
            cleaned[purpose] = text.strip()
    return cleaned


def latest_document(portal: Portal, purpose: str) -> ConsentDocument | None:
    return (
        ConsentDocument.objects.filter(portal=portal, purpose=purpose)
        .order_by("-version")
        .first()
    )


def document_current(*, portal: Portal, purpose: str) -> ConsentDocument:
    """The version clients are asked to agree to now (the default v1 if none)."""
    found = latest_document(portal, purpose)
    if found is not None:
        return found
    consent_settings = settings_for(portal)
    document, _ = document_publish(
        portal=portal,
        purpose=purpose,
        text=default_text(consent_settings, purpose),
        actor=Actor.system("consent"),
        custom=False,
    )
    return document


def document_publish(
    *,
    portal: Portal,
    purpose: str,
    text: str,
    actor: Actor,
    custom: bool = True,
) -> tuple[ConsentDocument, bool]:
    """Publish a text as the purpose's next version; (document, created).

    The same text as the current version publishes nothing. Consents given
    under a version that lacks one of the new version's processors are
    marked as needing renewal.
    """
    if purpose not in Purpose.values:
        raise DocumentError("unknown purpose")
    text = normalise_text(text)
    if len(text) > MAX_TEXT:
        raise DocumentError(f"a consent text holds at most {MAX_TEXT} characters")
    if len(text) < 200:
        raise DocumentError("the text is too short to be a consent document")

    with transaction.atomic():
        # The settings row is the per-portal lock: two editors publishing at
        # once would otherwise both take the same next version number.
        consent_settings = ConsentSettings.objects.select_for_update().get(
            pk=settings_for(portal).pk
        )
        previous = latest_document(portal, purpose)
        digest = text_sha256(text)
        if previous is not None and previous.sha256 == digest:
            return previous, False

        processors = clean_processors(consent_settings.processors)
        version = (
            ConsentDocument.objects.filter(portal=portal, purpose=purpose).aggregate(
                top=Max("version")
            )["top"]
            or 0
        ) + 1
        document = ConsentDocument.objects.create(
            portal=portal,
            purpose=purpose,
            version=version,
            text=text,
            sha256=digest,
            operator=operator_snapshot(consent_settings),
            processors=processors,
            custom=custom,
            created_by_user_id=actor.user_id,
        )
        journal_record(
            portal=portal,
            action="consent.document.published",
            actor=actor,
            details={"purpose": purpose, "version": version, "sha256": digest},
        )
        if previous is not None and _new_processor(previous, document):
            ledger.renewal_mark(portal=portal, document=document, actor=actor)
    return document, True


def _new_processor(previous: ConsentDocument, document: ConsentDocument) -> bool:
    before = {str(p.get("name", "")).casefold() for p in previous.processors}
    return any(str(p["name"]).casefold() not in before for p in document.processors)


def settings_update(
    *, portal: Portal, actor: Actor, **fields: Any
) -> list[ConsentDocument]:
    """Change the operator's details and republish the default texts that use them.

    A purpose whose current text was written by hand keeps it; the admin
    edits it. Returns the documents published.
    """
    allowed = {
        "operator_name",
        "operator_address",
        "inn",
        "ogrn",
        "withdraw_contact",
        "processors",
        "term",
        "clinic",
        "marketing",
        "purpose_texts",
        "data_lists",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise DocumentError(f"unknown setting: {sorted(unknown)[0]}")
    if "processors" in fields:
        fields["processors"] = clean_processors(fields["processors"])
    for key in ("purpose_texts", "data_lists"):
        if key in fields:
            fields[key] = clean_wordings(fields[key])
    for key in ("inn", "ogrn"):
        value = str(fields.get(key, "") or "")
        if value and (not value.isdigit() or len(value) not in (10, 12, 13, 15)):
            raise DocumentError(f"{key} must be 10–15 digits")

    with transaction.atomic():
        consent_settings = settings_for(portal)
        for key, value in fields.items():
            setattr(consent_settings, key, value)
        try:
            # Processors were checked above; JSON lists are no "blank" to Django.
            consent_settings.full_clean(
                exclude=[
                    "portal",
                    "public_id",
                    "processors",
                    "purpose_texts",
                    "data_lists",
                ]
            )
        except ValidationError as exc:
            raise DocumentError(
                f"invalid setting: {sorted(exc.error_dict)[0]}"
            ) from exc
        consent_settings.save()

        published = []
        for purpose in consent_settings.purposes():
            current = latest_document(portal, purpose)
            if current is not None and current.custom:
                continue
            document, created = document_publish(
                portal=portal,
                purpose=purpose,
                text=default_text(consent_settings, purpose),
                actor=actor,
                custom=False,
            )
            if created:
                published.append(document)
    return published


def document_path(document: ConsentDocument) -> str:
    public_id = settings_for(document.portal).public_id
    return reverse(
        "compliance:consent:document",
        kwargs={
            "public_id": public_id,
            "purpose": document.purpose,
            "version": document.version,
        },
    )


def document_url(document: ConsentDocument) -> str:
    """The document's public page, the link the chat sends."""
    return f"{django_settings.APP_BASE_URL}{document_path(document)}"

"""The phone vault: one canonical form per number, keyed pseudonyms, sealed originals.

- ``normalise`` turns any writing of a number into E.164 with ``phonenumbers``
  (region RU by default), so ``8 (900) 123-45-67`` and ``+7 900 123 45 67``
  are one key and ``8 800 …`` keeps its area code.
- ``pseudonym`` is HMAC-SHA-256 under a per-portal key: a bare hash of a
  ten-digit number is reversed by enumerating every number. The value names
  the master key version that made it (``ph1:<hex>``).
- ``encrypt_phone`` seals the original for the lead field
  ``UF_CRM_PDN_ORIGINAL_PHONE``; ``reseal_phone`` moves a sealed value to the
  current master key during rotation, while older versions keep opening.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from b24app import crypto
from compliance.journal import Actor, JournalError, journal_record, subject_lead
from integrator.models import Portal

PSEUDONYM_RE = re.compile(r"^ph(\d+):([0-9a-f]{64})$")


class PhoneNumberError(ValueError):
    """The text is not a valid phone number; the message never repeats it."""


def normalise(raw: str, region: str = "RU") -> str:
    """The E.164 form of ``raw`` (``+79001234567``), or ``PhoneNumberError``."""
    if not isinstance(raw, str) or not raw.strip():
        raise PhoneNumberError("empty phone number")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneNumberError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberError("not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def mask(e164: str) -> str:
    """A display form that hides all but the last two digits: ``+7 900 ***-**-67``."""
    number = phonenumbers.parse(normalise(e164), None)
    national = str(number.national_number)
    head, tail = national[:3], national[-2:]
    hidden = "*" * max(len(national) - 5, 0)
    if len(hidden) == 5:
        hidden = f"{hidden[:3]}-{hidden[3:]}"
    return f"+{number.country_code} {head} {hidden}-{tail}"


def _hmac_key(portal: Portal, version: int) -> bytes:
    return crypto.derive_key(f"phone-hmac:{portal.member_id}", version=version)


def pseudonym(portal: Portal, phone: str, *, version: int | None = None) -> str:
    """The portal's keyed pseudonym of a phone number, e.g. ``ph1:3f…``."""
    e164 = normalise(phone)
    version = crypto.current_version() if version is None else version
    digest = hmac.new(_hmac_key(portal, version), e164.encode(), hashlib.sha256)
    return f"ph{version}:{digest.hexdigest()}"


def pseudonyms(portal: Portal, phone: str) -> list[str]:
    """The pseudonyms under every known master key, current first (for look-ups)."""
    return [
        pseudonym(portal, phone, version=key.version) for key in crypto.master_keys()
    ]


def _seal_purpose(portal: Portal) -> str:
    return f"phone-original:{portal.member_id}"


def encrypt_phone(portal: Portal, phone: str) -> str:
    """The sealed original (``v1:…``) to store in ``UF_CRM_PDN_ORIGINAL_PHONE``."""
    return crypto.seal(normalise(phone), purpose=_seal_purpose(portal))


def decrypt_phone(portal: Portal, sealed: str) -> str:
    """The original E.164 number; ``crypto.CryptoError`` if it does not open."""
    return crypto.unseal(sealed, purpose=_seal_purpose(portal))


def needs_reseal(sealed: str) -> bool:
    return crypto.sealed_version(sealed) != crypto.current_version()


def reseal_phone(portal: Portal, sealed: str) -> str:
    """The same original sealed under the current master key (unchanged if it is)."""
    if not needs_reseal(sealed):
        return sealed
    return encrypt_phone(portal, decrypt_phone(portal, sealed))


@dataclass(frozen=True)
class ProtectedPhone:
    """What the lead fields hold for one number instead of the number itself."""

    pseudonym: str  # for look-ups, analytics and the AI: ph1:<hex>
    sealed: str  # for UF_CRM_PDN_ORIGINAL_PHONE: v1:<token>
    masked: str  # for the standard PHONE field in masked mode: +7 900 ***-**-67


def phone_protect(*, portal: Portal, raw: str) -> ProtectedPhone:
    """Normalise, pseudonymise, seal and mask one number from a lead."""
    e164 = normalise(raw)
    return ProtectedPhone(
        pseudonym=pseudonym(portal, e164),
        sealed=encrypt_phone(portal, e164),
        masked=mask(e164),
    )


class RevealReason(models.TextChoices):
    """Why a manager opens the original number; journaled as a code."""

    CALLBACK = "callback", _("Звонок клиенту")
    APPOINTMENT = "appointment", _("Запись или бронирование")
    SUBJECT_REQUEST = "subject_request", _("Запрос субъекта персональных данных")
    CORRECTION = "correction", _("Исправить номер")
    # The manager's own words are kept apart (they may name people); the
    # entry carries a reference to them in ``note``.
    OTHER = "other", _("Другое (укажите причину)")


def phone_reveal(
    *,
    portal: Portal,
    lead_id: int,
    sealed: str,
    actor: Actor,
    reason: str,
    channel: str = "lead_tab",
    note: str = "",
) -> str:
    """Open a lead's original number, journaled as ``lead.phone.revealed``.

    The number is returned only once its entry is written, inside the
    caller's transaction if there is one ("no entry, no reveal"). The caller
    has already checked that the actor may reveal.
    """
    if reason not in RevealReason.values:
        raise JournalError("reason must be one of the reveal reason codes")
    with transaction.atomic():
        e164 = decrypt_phone(portal, sealed)
        journal_record(
            portal=portal,
            action="lead.phone.revealed",
            actor=actor,
            subject=subject_lead(lead_id),
            details={
                "phone": pseudonym(portal, e164),
                "reason": reason,
                "channel": channel,
                **({"note": note} if note else {}),
            },
        )
    return e164


# Key rotation walks every place that holds sealed values. The originals live
# in Bitrix24 lead fields, so the code that reads and writes leads registers
# a step here; each step re-seals what it finds and returns how many values
# it changed (or would change, on a dry run).
RotationStep = Callable[[Portal, bool], int]
_rotation_steps: dict[str, RotationStep] = {}


def register_rotation_step(name: str, step: RotationStep) -> None:
    _rotation_steps[name] = step


def rotation_steps() -> dict[str, RotationStep]:
    return dict(_rotation_steps)


def _reseal_portal_tokens(portal: Portal, dry_run: bool) -> int:
    """Re-seal the portal's OAuth tokens without changing the tokens themselves."""
    fields = ["access_token_sealed", "refresh_token_sealed"]
    stale = [
        f for f in fields if getattr(portal, f) and needs_reseal(getattr(portal, f))
    ]
    if dry_run or not stale:
        return len(stale)

    purpose = f"oauth-token:{portal.member_id}"
    # Under the portal's row lock: a refresh writing new tokens at the same
    # moment must not be overwritten with the old pair.
    locked = Portal.objects.select_for_update().get(pk=portal.pk)
    changed = []
    for field in fields:
        value = getattr(locked, field)
        if value and needs_reseal(value):
            plain = crypto.unseal(value, purpose=purpose)
            setattr(locked, field, crypto.seal(plain, purpose=purpose))
            changed.append(field)
    locked.save(update_fields=changed)
    return len(changed)


register_rotation_step("portal_oauth_tokens", _reseal_portal_tokens)

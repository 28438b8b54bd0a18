"""Who may do what in PDn Guard, per portal, and the API tokens that carry it."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from compliance.journal import Actor, journal_record
from compliance.models import ApiToken, Role
from integrator.models import Portal

# Whoever reveals phones does not also audit the journal that records it.
EXCLUSIVE = {frozenset({Role.Name.REVEALER, Role.Name.AUDITOR})}
JOURNAL_READERS = frozenset({Role.Name.AUDITOR, Role.Name.ADMIN})
TOKEN_PREFIX = "pdn_"  # noqa: S105 - a label, not a secret


class RoleConflict(ValueError):
    """The role would give one user two duties that must stay apart."""


def user_roles(*, portal: Portal, b24_user_id: int) -> set[str]:
    rows = Role.objects.filter(portal=portal, b24_user_id=b24_user_id)
    return set(rows.values_list("role", flat=True))


def role_assign(*, portal: Portal, b24_user_id: int, role: str, actor: Actor) -> Role:
    """Give a user a role, journaled as ``role.assigned``."""
    if role not in Role.Name.values:
        raise ValueError("unknown role")
    with transaction.atomic():
        held = user_roles(portal=portal, b24_user_id=b24_user_id)
        if any(pair <= held | {role} for pair in EXCLUSIVE if role in pair):
            raise RoleConflict("revealing phones and auditing the journal stay apart")
        granted, created = Role.objects.get_or_create(
            portal=portal,
            b24_user_id=b24_user_id,
            role=role,
            defaults={"granted_by_user_id": actor.user_id},
        )
        if created:
            journal_record(
                portal=portal,
                action="role.assigned",
                actor=actor,
                subject=f"user#{b24_user_id}",
                details={"role": role},
            )
    return granted


def role_revoke(*, portal: Portal, b24_user_id: int, role: str, actor: Actor) -> bool:
    """Take a role away, journaled as ``role.revoked``; False if it was not held."""
    with transaction.atomic():
        deleted, _ = Role.objects.filter(
            portal=portal, b24_user_id=b24_user_id, role=role
        ).delete()
        if deleted:
            journal_record(
                portal=portal,
                action="role.revoked",
                actor=actor,
                subject=f"user#{b24_user_id}",
                details={"role": role},
            )
    return bool(deleted)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_issue(*, portal: Portal, b24_user_id: int, actor: Actor) -> str:
    """A new API token for a user; shown once, stored only as its SHA-256."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        issued = ApiToken.objects.create(
            portal=portal,
            b24_user_id=b24_user_id,
            key_hash=token_digest(token),
            prefix=token[:12].lower(),
        )
        journal_record(
            portal=portal,
            action="api.token.issued",
            actor=actor,
            subject=f"user#{b24_user_id}",
            details={"token": f"apitoken#{issued.pk}"},
        )
    return token


def api_token_revoke(*, token_id: int, actor: Actor) -> None:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token_id)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            journal_record(
                portal=token.portal,
                action="api.token.revoked",
                actor=actor,
                subject=f"user#{token.b24_user_id}",
                details={"token": f"apitoken#{token.pk}"},
            )


def api_token_holder(token: str) -> ApiToken | None:
    """The live token row for a presented token, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    found = (
        ApiToken.objects.select_related("portal")
        .filter(key_hash=token_digest(token), revoked_at__isnull=True)
        .first()
    )
    return found

"""Per-portal phone settings: the phone mode and who may reveal numbers.

A user may reveal when they hold the ``revealer`` role themselves
(``compliance.roles``) or through one of their Bitrix24 departments
(``UF_DEPARTMENT`` of ``user.current``). Every change is journaled.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from compliance.journal import Actor, journal_record
from compliance.models import Role
from compliance.phones.models import DepartmentRole, PhonePolicy
from compliance.roles import EXCLUSIVE, RoleConflict, user_roles
from integrator.models import Portal


def phone_mode(portal: Portal) -> str:
    """``mask`` (the default) or ``keep``."""
    policy = PhonePolicy.objects.filter(portal=portal).first()
    return policy.mode if policy else PhonePolicy.Mode.MASK.value


def phone_mode_set(*, portal: Portal, mode: str, actor: Actor) -> bool:
    """Choose the phone mode, journaled as ``settings.changed``; False if unchanged."""
    if mode not in PhonePolicy.Mode.values:
        raise ValueError("phone mode is mask or keep")
    with transaction.atomic():
        policy, created = PhonePolicy.objects.select_for_update().get_or_create(
            portal=portal
        )
        if policy.mode == mode and not created:
            return False
        policy.mode = mode
        policy.changed_at = timezone.now()
        policy.changed_by_user_id = actor.user_id
        policy.save()
        journal_record(
            portal=portal,
            action="settings.changed",
            actor=actor,
            details={"setting": "phone_mode", "value": mode},
        )
    return True


def department_roles(*, portal: Portal, departments: Iterable[int]) -> set[str]:
    wanted = [int(d) for d in departments]
    if not wanted:
        return set()
    rows = DepartmentRole.objects.filter(portal=portal, department_id__in=wanted)
    return set(rows.values_list("role", flat=True))


def held_roles(
    *, portal: Portal, b24_user_id: int, departments: Iterable[int] = ()
) -> set[str]:
    """Roles a user holds in person or through any of their departments."""
    own = user_roles(portal=portal, b24_user_id=b24_user_id)
    return own | department_roles(portal=portal, departments=departments)


def may_reveal(*, portal: Portal, b24_user_id: int, departments: Iterable[int]) -> bool:
    roles = held_roles(portal=portal, b24_user_id=b24_user_id, departments=departments)
    # Whoever audits the journal does not reveal, whatever else they hold.
    return Role.Name.REVEALER in roles and Role.Name.AUDITOR not in roles


def department_role_assign(
    *, portal: Portal, department_id: int, role: str, actor: Actor
) -> DepartmentRole:
    """Give a whole department a role, journaled as ``role.assigned``."""
    if role not in Role.Name.values:
        raise ValueError("unknown role")
    with transaction.atomic():
        held = set(
            DepartmentRole.objects.filter(
                portal=portal, department_id=department_id
            ).values_list("role", flat=True)
        )
        if any(pair <= held | {role} for pair in EXCLUSIVE if role in pair):
            raise RoleConflict("revealing phones and auditing the journal stay apart")
        granted, created = DepartmentRole.objects.get_or_create(
            portal=portal,
            department_id=department_id,
            role=role,
            defaults={"granted_by_user_id": actor.user_id},
        )
        if created:
            journal_record(
                portal=portal,
                action="role.assigned",
                actor=actor,
                subject=f"department#{department_id}",
                details={"role": role},
            )
    return granted


def department_role_revoke(
    *, portal: Portal, department_id: int, role: str, actor: Actor
) -> bool:
    """Take a department's role away, journaled as ``role.revoked``."""
    with transaction.atomic():
        deleted, _ = DepartmentRole.objects.filter(
            portal=portal, department_id=department_id, role=role
        ).delete()
        if deleted:
            journal_record(
                portal=portal,
                action="role.revoked",
                actor=actor,
                subject=f"department#{department_id}",
                details={"role": role},
            )
    return bool(deleted)

"""Rows of the compliance domain: the access journal, its checkpoints, roles."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrator.models import Portal


class AppendOnlyError(Exception):
    """A journal row was asked to change or disappear; it never may."""


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """Bulk changes are refused like single ones (PostgreSQL refuses both too)."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("journal rows are never changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("journal rows are never deleted")


class JournalHead(models.Model):
    """The last sequence number and hash of one portal's journal.

    Writers lock this row before appending, which serialises appends per
    portal: the sequence stays gapless and each entry links to the one
    before it even with many concurrent writers.
    """

    portal = models.OneToOneField(
        Portal, on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("вершина журнала")
        verbose_name_plural = _("вершины журнала")

    def __str__(self) -> str:
        return f"head #{self.last_seq}"


class JournalEntry(models.Model):
    """One recorded action; never changed or deleted once written.

    ``details`` holds the canonical JSON text (sorted keys, compact) so that
    the hash is computed over exactly the stored bytes.
    """

    portal = models.ForeignKey(Portal, on_delete=models.PROTECT, related_name="+")
    seq = models.BigIntegerField()
    at = models.DateTimeField()
    action = models.CharField(max_length=64)
    actor_kind = models.CharField(max_length=16)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_role = models.CharField(max_length=32)
    subject = models.CharField(max_length=128, blank=True)
    details = models.TextField(default="{}")
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("запись журнала доступа")
        verbose_name_plural = _("журнал доступа")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "seq"], name="compliance_journal_portal_seq"
            ),
        ]
        indexes = [
            models.Index(fields=["portal", "at"], name="compliance_journal_at"),
            models.Index(fields=["portal", "action"], name="compliance_journal_action"),
            models.Index(
                fields=["portal", "actor_user_id"], name="compliance_journal_actor"
            ),
            models.Index(fields=["portal", "subject"], name="compliance_journal_subj"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("journal entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("journal entries are never deleted")


class JournalCheckpoint(models.Model):
    """A signed statement: at ``seq`` the portal's chain ended in ``head_hash``."""

    portal = models.ForeignKey(Portal, on_delete=models.PROTECT, related_name="+")
    seq = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("контрольная точка журнала")
        verbose_name_plural = _("контрольные точки журнала")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "seq"], name="compliance_checkpoint_portal_seq"
            ),
        ]

    def __str__(self) -> str:
        return f"checkpoint #{self.seq}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("journal checkpoints are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("journal checkpoints are never deleted")


class Role(models.Model):
    """What a Bitrix24 user of a portal may do in PDn Guard.

    admin: settings and roles; auditor: reads and exports the journal;
    revealer: sees original phones. One user may hold several roles, except
    that whoever reveals phones does not also audit the journal.
    """

    class Name(models.TextChoices):
        ADMIN = "admin", _("Администратор")
        AUDITOR = "auditor", _("Аудитор")
        REVEALER = "revealer", _("Может раскрывать телефон")

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    b24_user_id = models.PositiveBigIntegerField()
    role = models.CharField(max_length=16, choices=Name.choices)
    granted_at = models.DateTimeField(default=timezone.now)
    granted_by_user_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("роль")
        verbose_name_plural = _("роли")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "b24_user_id", "role"], name="compliance_role_once"
            ),
        ]

    def __str__(self) -> str:
        return f"user#{self.b24_user_id} {self.role}"


class ApiToken(models.Model):
    """A bearer token for the journal API, issued to one Bitrix24 user.

    Only the SHA-256 of the token is stored; the token is shown once. What
    the holder may do follows the user's current roles, so revoking a role
    revokes the API access with it.
    """

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    b24_user_id = models.PositiveBigIntegerField()
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("токен API")
        verbose_name_plural = _("токены API")

    def __str__(self) -> str:
        return f"{self.prefix}… user#{self.b24_user_id}"

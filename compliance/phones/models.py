"""Rows of phone protection: the portal's phone mode, reveal rights, alerts, notes."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from compliance.models import Role
from integrator.models import Portal


class PhonePolicy(models.Model):
    """How a portal's standard PHONE field looks once a number is protected."""

    class Mode(models.TextChoices):
        MASK = "mask", _("Скрывать номер в поле «Телефон» (+7 900 ***-**-67)")
        KEEP = "keep", _("Оставлять номер в поле «Телефон» для телефонии")

    portal = models.OneToOneField(
        Portal, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.MASK)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by_user_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("режим телефона")
        verbose_name_plural = _("режимы телефона")

    def __str__(self) -> str:
        return self.mode


class DepartmentRole(models.Model):
    """A role every member of a Bitrix24 department holds (``UF_DEPARTMENT``)."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    department_id = models.PositiveBigIntegerField()
    role = models.CharField(max_length=16, choices=Role.Name.choices)
    granted_at = models.DateTimeField(default=timezone.now)
    granted_by_user_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("роль отдела")
        verbose_name_plural = _("роли отделов")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "department_id", "role"],
                name="phones_department_role_once",
            ),
        ]

    def __str__(self) -> str:
        return f"department#{self.department_id} {self.role}"


class RevealAlert(models.Model):
    """A user asked for more numbers than the limit allows; shown to the admin."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    b24_user_id = models.PositiveBigIntegerField()
    at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField()
    window_seconds = models.PositiveIntegerField()
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("тревога о раскрытиях")
        verbose_name_plural = _("тревоги о раскрытиях")
        indexes = [models.Index(fields=["portal", "at"], name="phones_alert_at")]

    def __str__(self) -> str:
        return f"user#{self.b24_user_id} x{self.attempts}"


class RevealNote(models.Model):
    """The manager's own words for a reveal with the reason "other".

    Free text may name people, so it stays out of the journal: the entry
    points here (``revealnote#<id>``) and the note is deleted with the
    portal's data.
    """

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    lead_id = models.PositiveBigIntegerField()
    b24_user_id = models.PositiveBigIntegerField()
    at = models.DateTimeField(default=timezone.now)
    text = models.CharField(max_length=300)

    class Meta:
        verbose_name = _("пояснение к раскрытию")
        verbose_name_plural = _("пояснения к раскрытиям")

    def __str__(self) -> str:
        return f"revealnote#{self.pk}"

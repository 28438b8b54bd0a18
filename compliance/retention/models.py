"""Retention policy, legal holds, runs and the per-lead state of each run.

A lead moves through one run as planned → archived → deleted → confirmed →
purged; each step is recorded before the next starts, so a worker killed at
any point resumes where the rows say it stopped. Personal data exists here
only inside an archive, encrypted under a key of its own (``ArchiveKey``);
deleting that key destroys the archive even in backups made before.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrator.models import Portal

MEDICAL_FIELD = "UF_CRM_PDN_MEDICAL"


class RetentionPolicy(models.Model):
    """How long each class of lead is kept on one portal.

    A lead is a *medical record* when its ``medical_field`` user field is set
    (Y/1/true) or its SOURCE_ID or STATUS_ID is listed as medical; such a lead
    is never destroyed automatically, only flagged for the clinic's own system.
    """

    portal = models.OneToOneField(
        Portal, on_delete=models.CASCADE, related_name="retention_policy"
    )
    enabled = models.BooleanField(
        _("уничтожать по сроку"),
        default=False,
        help_text=_("Включает ежедневный запуск, который удаляет лиды из Битрикс24."),
    )
    unconverted_months = models.PositiveSmallIntegerField(
        _("необработанные лиды, месяцев"),
        default=6,
        validators=[MinValueValidator(6), MaxValueValidator(12)],
    )
    withdrawn_days = models.PositiveSmallIntegerField(
        _("после отзыва согласия, дней"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
    )
    notice_days = models.PositiveSmallIntegerField(
        _("предупреждать за, дней"),
        default=14,
        validators=[MaxValueValidator(60)],
    )
    grace_days = models.PositiveSmallIntegerField(
        _("хранить архив для восстановления, дней"),
        default=30,
        validators=[MaxValueValidator(30)],
    )
    medical_field = models.CharField(
        _("поле признака медкарты"), max_length=50, default=MEDICAL_FIELD
    )
    medical_sources = models.JSONField(
        _("медицинские источники"), default=list, blank=True
    )
    medical_statuses = models.JSONField(
        _("медицинские статусы"), default=list, blank=True
    )
    act_names = models.BooleanField(
        _("ФИО субъектов в акте"),
        default=False,
        help_text=_("Иначе акт называет субъекта номером лида и псевдонимом телефона."),
    )
    operator_name = models.CharField(_("оператор"), max_length=255, blank=True)
    operator_address = models.CharField(
        _("адрес оператора"), max_length=255, blank=True
    )
    processor_name = models.CharField(_("обработчик"), max_length=255, blank=True)
    processor_address = models.CharField(
        _("адрес обработчика"), max_length=255, blank=True
    )
    system_name = models.CharField(_("наименование ИСПДн"), max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("политика хранения")

    def __str__(self) -> str:
        return f"retention policy of {self.portal_id}"


class RetentionClass(models.Model):
    """A class the admin adds: leads with these statuses or sources, kept N days."""

    portal = models.ForeignKey(
        Portal, on_delete=models.CASCADE, related_name="retention_classes"
    )
    name = models.CharField(_("название"), max_length=100)
    status_ids = models.JSONField(_("статусы"), default=list, blank=True)
    source_ids = models.JSONField(_("источники"), default=list, blank=True)
    period_days = models.PositiveIntegerField(
        _("срок, дней"), validators=[MinValueValidator(1)]
    )
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"retention class {self.pk}"

    @property
    def code(self) -> str:
        return f"custom_{self.pk}"


class LegalHold(models.Model):
    """A lead kept whatever its clock says, until the hold is released."""

    class Reason(models.TextChoices):
        SUBJECT_REQUEST = "subject_request", _("открытый запрос субъекта")
        RKN_INQUIRY = "rkn_inquiry", _("запрос Роскомнадзора")
        DISPUTE = "dispute", _("спор или претензия")
        INVESTIGATION = "investigation", _("расследование")
        MEDICAL_RECORD = "medical_record", _("медицинская документация")

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    lead_id = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=32, choices=Reason.choices)
    set_by_user_id = models.PositiveBigIntegerField()
    set_at = models.DateTimeField(default=timezone.now)
    review_date = models.DateField()
    released_at = models.DateTimeField(null=True, blank=True)
    released_by_user_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            # One open hold per lead: a second set is a no-op, not a second row.
            models.UniqueConstraint(
                fields=["portal", "lead_id"],
                condition=Q(released_at__isnull=True),
                name="retention_one_open_hold_per_lead",
            )
        ]

    def __str__(self) -> str:
        return f"hold on lead {self.lead_id}"


class RetentionRun(models.Model):
    """One day's run of one portal; the unique date makes a second scheduler a no-op."""

    class Status(models.TextChoices):
        PLANNING = "planning", _("планирование")
        RUNNING = "running", _("выполняется")
        DONE = "done", _("завершён")
        PARTIAL = "partial", _("завершён с ошибками")

    portal = models.ForeignKey(
        Portal, on_delete=models.CASCADE, related_name="retention_runs"
    )
    run_date = models.DateField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PLANNING
    )
    created_at = models.DateTimeField(default=timezone.now)
    planned_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    steps = models.PositiveIntegerField(default=0)
    touched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "run_date"], name="retention_one_run_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"retention run {self.run_date} of {self.portal_id}"

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.PARTIAL}


class RunLead(models.Model):
    """One lead's way through destruction; holds ids, dates and codes only."""

    class State(models.TextChoices):
        PLANNED = "planned", _("запланирован")
        ARCHIVED = "archived", _("в архиве")
        DELETED = "deleted", _("удалён из Битрикс24")
        CONFIRMED = "confirmed", _("удаление подтверждено")
        PURGED = "purged", _("уничтожен")
        SKIPPED = "skipped", _("пропущен")
        FAILED = "failed", _("не удалось удалить")
        RESTORED = "restored", _("восстановлен")

    OPEN_STATES = (State.PLANNED, State.ARCHIVED, State.DELETED, State.CONFIRMED)

    run = models.ForeignKey(
        RetentionRun, on_delete=models.CASCADE, related_name="leads"
    )
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    lead_id = models.PositiveBigIntegerField()
    data_class = models.CharField(max_length=32)
    reason = models.CharField(max_length=64)
    due_at = models.DateTimeField()
    destroy_by = models.DateTimeField(null=True, blank=True)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.PLANNED
    )
    skip_reason = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=64, blank=True)
    categories = models.JSONField(default=list)
    subject_ref = models.CharField(max_length=100, blank=True)
    subject_name_sealed = models.TextField(blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    purged_run = models.ForeignKey(
        RetentionRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="purged_leads",
    )
    journal_seq = models.BigIntegerField(null=True, blank=True)
    delete_commands = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            # A lead is on its way out in at most one run at a time: a later
            # run leaves it to the run that is already destroying it.
            models.UniqueConstraint(
                fields=["portal", "lead_id"],
                condition=Q(state__in=["planned", "archived", "deleted", "confirmed"]),
                name="retention_lead_open_once",
            )
        ]
        indexes = [models.Index(fields=["run", "state"])]

    def __str__(self) -> str:
        return f"lead {self.lead_id} in run {self.run_id}"

    def purge_due(self, now: datetime) -> bool:
        return self.state == self.State.CONFIRMED and (
            self.purge_after is None or self.purge_after <= now
        )


class ArchiveKey(models.Model):
    """The key of one archive, sealed under the master key; deleted to destroy it."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    sealed = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"archive key {self.pk}"


class ArchivedLead(models.Model):
    """A deleted lead's fields, phones and comments, restorable during the grace."""

    run_lead = models.OneToOneField(
        RunLead, on_delete=models.CASCADE, related_name="archive"
    )
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    lead_id = models.PositiveBigIntegerField()
    key = models.ForeignKey(
        ArchiveKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.TextField(blank=True)
    comment_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    purge_after = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)
    restored_lead_id = models.PositiveBigIntegerField(null=True, blank=True)
    restored_by_user_id = models.PositiveBigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"archive of lead {self.lead_id}"

    @property
    def restorable(self) -> bool:
        return self.key_id is not None and self.restored_at is None


class RetentionNotice(models.Model):
    """A lead that falls due soon (or is a medical record), shown to the admin."""

    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", _("скоро будет уничтожен")
        MEDICAL = "medical", _("медицинская запись: уничтожается вручную в МИС")
        FAILED = "failed", _("не удалось удалить")

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(
        RetentionRun, null=True, on_delete=models.SET_NULL, related_name="notices"
    )
    lead_id = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    data_class = models.CharField(max_length=32)
    due_date = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "lead_id", "kind", "due_date"],
                name="retention_notice_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} notice for lead {self.lead_id}"


class DestructionAct(models.Model):
    """The act and journal extract of one run (order No. 179); kept three years."""

    KEEP = timedelta(days=3 * 365 + 1)

    run = models.OneToOneField(
        RetentionRun, on_delete=models.CASCADE, related_name="act"
    )
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    number = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    destroyed_count = models.PositiveIntegerField()
    docx = models.BinaryField()
    csv = models.TextField()
    sha256 = models.CharField(max_length=64)
    keep_until = models.DateField()

    def __str__(self) -> str:
        return f"act {self.number}"

    @classmethod
    def keep_until_for(cls, destroyed_on: date) -> date:
        return destroyed_on + cls.KEEP

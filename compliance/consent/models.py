"""The consent ledger: frozen documents, an append-only event log, current status.

- ``ConsentSettings``: the operator's details that fill the default texts,
  and the portal's public id for the documents' public pages.
- ``ConsentDocument``: one purpose's text, versioned; a version never
  changes once written (the database refuses), so the SHA-256 stored with an
  answer always names the exact text the client was shown.
- ``ConsentEvent``: every request, answer, withdrawal and renewal notice, as
  evidence (152-FZ art. 9 part 3 puts the burden of proof on the operator).
  Append-only; the raw reply is sealed, never stored in clear.
- ``ConsentStatus``: the current state per client and purpose, derived from
  the events and changed in the same transaction as the event that moves it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from b24app import crypto
from integrator.models import Portal

# 152-FZ art. 21 part 5: data processed on a withdrawn consent is destroyed
# within 30 days of receiving the withdrawal.
DESTROY_WITHIN = timedelta(days=30)


class Purpose(models.TextChoices):
    PROCESSING = "processing", _("Запись и напоминания")
    HEALTH = "health", _("Сведения о состоянии здоровья")
    MARKETING = "marketing", _("Рекламные рассылки")


class Channel(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp"
    TELEGRAM = "telegram", "Telegram"
    INSTAGRAM = "instagram", "Instagram"
    SITE = "site", _("Чат на сайте")
    OTHER = "other", _("Другой канал")
    MANAGER = "manager", _("Записано менеджером")


class FrozenError(Exception):
    """A frozen row (a document version, a ledger event) was asked to change."""


def _public_id() -> str:
    return secrets.token_hex(8)


class ConsentSettings(models.Model):
    """What the portal's default consent texts say about the operator."""

    portal = models.OneToOneField(
        Portal, on_delete=models.CASCADE, related_name="consent_settings"
    )
    public_id = models.CharField(max_length=32, unique=True, default=_public_id)
    operator_name = models.CharField(_("оператор"), max_length=255, blank=True)
    operator_address = models.CharField(
        _("адрес оператора"), max_length=500, blank=True
    )
    inn = models.CharField(_("ИНН"), max_length=12, blank=True)
    ogrn = models.CharField(_("ОГРН"), max_length=15, blank=True)
    withdraw_contact = models.CharField(
        _("куда направить отзыв"), max_length=255, blank=True
    )
    # [{"name": ..., "address": ..., "role": ...}], e.g. the AI vendor.
    processors = models.JSONField(_("обработчики по поручению"), default=list)
    term = models.CharField(
        _("срок действия согласия"),
        max_length=255,
        default="до достижения целей обработки, но не более 1 года",
    )
    # Per purpose, the operator's own wording of the purpose and of the data
    # list, replacing the defaults: {"processing": "…"}.
    purpose_texts = models.JSONField(_("цели обработки"), default=dict, blank=True)
    data_lists = models.JSONField(_("перечни данных"), default=dict, blank=True)
    clinic = models.BooleanField(_("медицинская организация"), default=False)
    marketing = models.BooleanField(_("просить согласие на рассылки"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("настройки согласий")
        verbose_name_plural = _("настройки согласий")

    def __str__(self) -> str:
        return self.public_id

    def purposes(self) -> list[str]:
        """The purposes this portal asks consent for, in the order they are asked."""
        chosen = [Purpose.PROCESSING.value]
        if self.clinic:
            chosen.append(Purpose.HEALTH.value)
        if self.marketing:
            chosen.append(Purpose.MARKETING.value)
        return chosen


class ConsentDocument(models.Model):
    """One version of one purpose's consent text; frozen once written."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    version = models.PositiveIntegerField()
    text = models.TextField()
    sha256 = models.CharField(max_length=64)
    # Who was named as operator and processors in this version, for the
    # evidence record and for noticing a new processor.
    operator = models.JSONField(default=dict)
    processors = models.JSONField(default=list)
    custom = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_user_id = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("текст согласия")
        verbose_name_plural = _("тексты согласий")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "purpose", "version"],
                name="consent_document_version",
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise FrozenError("a consent document version never changes")
        super().save(*args, **kwargs)

    @property
    def label(self) -> str:
        """``processing v2 sha256:…``, the text's name on a lead and in the ledger."""
        return f"{self.purpose} v{self.version} sha256:{self.sha256}"


class ConsentEvent(models.Model):
    """One fact about a client's consent, kept as evidence; append-only."""

    class Kind(models.TextChoices):
        REQUESTED = "requested", _("Запрошено")
        ANSWERED = "answered", _("Ответ клиента")
        WITHDRAWN = "withdrawn", _("Отозвано")
        RENEWAL = "renewal", _("Требуется новое согласие")

    class Answer(models.TextChoices):
        YES = "yes", _("Да")
        NO = "no", _("Нет")
        UNCLEAR = "unclear", _("Неясно")
        NONE = "", "—"

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    client_ref = models.CharField(max_length=64)
    lead_id = models.PositiveBigIntegerField(null=True, blank=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    document = models.ForeignKey(
        ConsentDocument, on_delete=models.PROTECT, related_name="events"
    )
    # Copies, so the evidence reads whole from this row alone.
    document_version = models.PositiveIntegerField()
    document_sha256 = models.CharField(max_length=64)

    channel = models.CharField(max_length=16, choices=Channel.choices)
    connector_id = models.CharField(max_length=64, blank=True)
    line_id = models.PositiveIntegerField(null=True, blank=True)
    chat_id = models.PositiveBigIntegerField(null=True, blank=True)
    dialog_id = models.CharField(max_length=64, blank=True)
    message_id = models.PositiveBigIntegerField(null=True, blank=True)
    # The client's identifier in the messenger (CHAT_ENTITY_ID), sealed.
    channel_ref_sealed = models.TextField(blank=True)

    at = models.DateTimeField(default=timezone.now)
    platform_at = models.DateTimeField(null=True, blank=True)
    reply_sealed = models.TextField(blank=True)
    answer = models.CharField(
        max_length=8, choices=Answer.choices, default=Answer.NONE, blank=True
    )
    status_after = models.CharField(max_length=16)

    asked_by_bot_id = models.PositiveIntegerField(null=True, blank=True)
    actor_user_id = models.PositiveIntegerField(null=True, blank=True)
    note_sealed = models.TextField(blank=True)

    class Meta:
        verbose_name = _("событие согласия")
        verbose_name_plural = _("журнал согласий")
        constraints = [
            # A chat message repeated by Bitrix24 is one fact, not two.
            models.UniqueConstraint(
                fields=["portal", "purpose", "message_id"],
                condition=models.Q(message_id__isnull=False),
                name="consent_event_message_once",
            )
        ]
        indexes = [
            models.Index(
                fields=["portal", "client_ref", "at"], name="consent_by_client"
            ),
            models.Index(fields=["portal", "lead_id"], name="consent_by_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.purpose} {self.client_ref}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise FrozenError("consent events are evidence and never change")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise FrozenError("consent events are evidence and are never deleted")

    @staticmethod
    def seal_purpose(portal: Portal) -> str:
        return f"consent-evidence:{portal.member_id}"

    def seal(self, value: str) -> str:
        return (
            crypto.seal(value, purpose=self.seal_purpose(self.portal)) if value else ""
        )

    def unseal(self, sealed: str) -> str:
        if not sealed:
            return ""
        return crypto.unseal(sealed, purpose=self.seal_purpose(self.portal))

    @property
    def reply(self) -> str:
        """The client's raw reply, as the messenger delivered it."""
        return self.unseal(self.reply_sealed)

    @property
    def note(self) -> str:
        return self.unseal(self.note_sealed)


class ConsentStatus(models.Model):
    """Where one client's consent for one purpose stands now."""

    class State(models.TextChoices):
        PENDING = "pending", _("Запрошено, ответа нет")
        GRANTED = "granted", _("Дано")
        DENIED = "denied", _("Отказ")
        WITHDRAWN = "withdrawn", _("Отозвано")
        NEEDS_RENEWAL = "needs_renewal", _("Нужно новое согласие")

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    client_ref = models.CharField(max_length=64)
    lead_id = models.PositiveBigIntegerField(null=True, blank=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    state = models.CharField(max_length=16, choices=State.choices)
    document = models.ForeignKey(
        ConsentDocument, on_delete=models.PROTECT, related_name="+"
    )
    last_event = models.ForeignKey(
        ConsentEvent, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField()
    requests = models.PositiveSmallIntegerField(default=0)
    unclear_answers = models.PositiveSmallIntegerField(default=0)
    granted_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    destroy_by = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("состояние согласия")
        verbose_name_plural = _("состояния согласий")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "client_ref", "purpose"],
                name="consent_status_per_client",
            )
        ]
        indexes = [
            models.Index(fields=["portal", "state"], name="consent_status_by_state"),
            models.Index(fields=["portal", "lead_id"], name="consent_status_by_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.client_ref} {self.purpose}: {self.state}"


class LeadMirror(models.Model):
    """A ledger event already written to its lead (fields and timeline)."""

    event = models.OneToOneField(
        ConsentEvent, on_delete=models.CASCADE, related_name="mirror"
    )
    done_at = models.DateTimeField(default=timezone.now)
    timeline_comment_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("отражение в лиде")
        verbose_name_plural = _("отражения в лидах")

    def __str__(self) -> str:
        return f"mirror of {self.event_id}"


class ChatTurn(models.Model):
    """One open-line message the consent bot received; unique per message id.

    The receiver stores it and enqueues its id; a repeat of the same
    MESSAGE_ID hits the unique key and is never processed twice. The text is
    sealed and cleared once processed: it stays only on the ledger event, if
    it was an answer.
    """

    class Outcome(models.TextChoices):
        PENDING = "", _("Ожидает обработки")
        OWN = "own", _("Сообщение самого бота")
        SYSTEM = "system", _("Системное сообщение")
        OPERATOR = "operator", _("Сообщение оператора")
        NOT_LINES = "not_lines", _("Не открытая линия")
        ASKED = "asked", _("Отправлен запрос согласия")
        ANSWERED = "answered", _("Записан ответ")
        REASKED = "reasked", _("Запрос повторён")
        HANDED_OVER = "handed_over", _("Передано оператору")
        WITHDRAWN = "withdrawn", _("Согласие отозвано")
        SETTLED = "settled", _("Согласия уже получены")

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=32)
    bot_id = models.PositiveIntegerField()
    message_id = models.PositiveBigIntegerField()
    dialog_id = models.CharField(max_length=64)
    chat_id = models.PositiveBigIntegerField(null=True, blank=True)
    from_user_id = models.PositiveBigIntegerField(null=True, blank=True)
    from_client = models.BooleanField(default=False)
    system = models.BooleanField(default=False)
    entity_type = models.CharField(max_length=32, blank=True)
    entity_data_1 = models.CharField(max_length=255, blank=True)
    entity_data_2 = models.CharField(max_length=255, blank=True)
    entity_id_sealed = models.TextField(blank=True)
    text_sealed = models.TextField(blank=True)
    platform_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.PENDING, blank=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("сообщение чата")
        verbose_name_plural = _("сообщения чата")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "event", "message_id"], name="consent_turn_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.message_id}"

    def _purpose(self) -> str:
        return f"consent-chat:{self.portal.member_id}"

    def seal_text(self, text: str) -> None:
        self.text_sealed = crypto.seal(text, purpose=self._purpose()) if text else ""

    def seal_entity_id(self, entity_id: str) -> None:
        self.entity_id_sealed = (
            crypto.seal(entity_id, purpose=self._purpose()) if entity_id else ""
        )

    @property
    def text(self) -> str:
        if not self.text_sealed:
            return ""
        return crypto.unseal(self.text_sealed, purpose=self._purpose())

    @property
    def entity_id(self) -> str:
        if not self.entity_id_sealed:
            return ""
        return crypto.unseal(self.entity_id_sealed, purpose=self._purpose())


class ChatSession(models.Model):
    """One open-line chat as the consent bot sees it; its row serialises turns."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    chat_id = models.PositiveBigIntegerField()
    dialog_id = models.CharField(max_length=64)
    bot_id = models.PositiveIntegerField()
    lead_id = models.PositiveBigIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("диалог открытой линии")
        verbose_name_plural = _("диалоги открытых линий")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "chat_id"], name="consent_session_per_chat"
            )
        ]

    def __str__(self) -> str:
        return self.dialog_id


class BotReply(models.Model):
    """A message the consent bot sent (or handed the chat over); no client data."""

    class Kind(models.TextChoices):
        REQUEST = "request", _("Запрос согласия")
        REASK = "reask", _("Повторный запрос")
        CONFIRM = "confirm", _("Подтверждение")
        DENIED = "denied", _("Отказ принят")
        WITHDRAWN = "withdrawn", _("Отзыв принят")
        HANDOVER = "handover", _("Передача оператору")

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(
        ChatSession, on_delete=models.CASCADE, related_name="replies"
    )
    turn = models.ForeignKey(ChatTurn, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, blank=True)
    text = models.TextField(blank=True)
    b24_message_id = models.PositiveBigIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("ответ бота")
        verbose_name_plural = _("ответы бота")

    def __str__(self) -> str:
        return f"{self.kind} in {self.session_id}"

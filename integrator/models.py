"""A Bitrix24 portal that installed PDn Guard, its tokens and its deliveries."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from b24app import crypto


class Portal(models.Model):
    """One installation of the app; every other row belongs to one of these."""

    class Status(models.TextChoices):
        INSTALLING = "installing", _("Установка не завершена")
        ACTIVE = "active", _("Работает")
        REAUTH_REQUIRED = "reauth_required", _("Нужна повторная авторизация")
        SUSPENDED_PAYMENT = "suspended_payment", _("Приостановлено: не оплачено")
        UNINSTALLED = "uninstalled", _("Удалено")

    member_id = models.CharField(max_length=64, unique=True)
    domain = models.CharField(max_length=255)
    client_endpoint = models.URLField(max_length=255)
    server_endpoint = models.URLField(max_length=255)
    application_token = models.CharField(max_length=128)
    plan = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=8, default="ru")
    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.INSTALLING
    )
    status_reason = models.CharField(max_length=255, blank=True)

    # Tokens of the installing admin (later: of the integrator user), sealed.
    access_token_sealed = models.TextField(blank=True)
    refresh_token_sealed = models.TextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    token_user_id = models.PositiveIntegerField(null=True, blank=True)
    token_version = models.PositiveIntegerField(default=0)

    installed_at = models.DateTimeField(default=timezone.now)
    setup_completed_at = models.DateTimeField(null=True, blank=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    purge_requested_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    # What the portal itself last said about the install (app.info INSTALLED):
    # None until the health check has asked once.
    install_confirmed = models.BooleanField(null=True, blank=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("портал")
        verbose_name_plural = _("порталы")

    def __str__(self) -> str:
        return self.domain

    @property
    def origin(self) -> str:
        """The portal's web origin, e.g. ``https://example.bitrix24.ru``."""
        scheme, _, rest = self.client_endpoint.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def access_token(self) -> str:
        if not self.access_token_sealed:
            return ""
        return crypto.unseal(self.access_token_sealed, purpose=self._token_purpose)

    @property
    def refresh_token(self) -> str:
        if not self.refresh_token_sealed:
            return ""
        return crypto.unseal(self.refresh_token_sealed, purpose=self._token_purpose)

    @property
    def _token_purpose(self) -> str:
        return f"oauth-token:{self.member_id}"

    def set_tokens(self, *, access: str, refresh: str) -> None:
        """Seal a new token pair; the caller saves, under the portal's lock."""
        self.access_token_sealed = crypto.seal(access, purpose=self._token_purpose)
        self.refresh_token_sealed = crypto.seal(refresh, purpose=self._token_purpose)
        self.token_version += 1

    def forget_tokens(self) -> None:
        self.access_token_sealed = ""
        self.refresh_token_sealed = ""
        self.token_expires_at = None

    @property
    def has_tokens(self) -> bool:
        return bool(self.refresh_token_sealed)

    @property
    def is_set_up(self) -> bool:
        return self.setup_completed_at is not None


class EventDelivery(models.Model):
    """One event as Bitrix24 delivered it; the unique key makes repeats no-ops.

    Bitrix24 gives a delivery no id of its own. A repeat carries the same
    event, the same ``ts`` and the same ``data`` (for lead events: the lead
    ID), while the handler id and the tokens in ``auth`` may differ (two
    bindings, another user's token). So the key is a hash of member_id,
    event, ts and data. Two real changes of one lead within the same second
    collapse into one delivery; that is harmless because processing re-reads
    the lead rather than trusting the event.
    """

    class Outcome(models.TextChoices):
        PENDING = "", _("Ожидает обработки")
        DONE = "done", _("Обработано")
        GONE = "gone", _("Объект уже удалён")
        FAILED = "failed", _("Ошибка")

    portal = models.ForeignKey(
        Portal, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=64)
    entity_id = models.BigIntegerField(null=True, blank=True)
    handler_id = models.CharField(max_length=32, blank=True)
    ts = models.BigIntegerField(null=True, blank=True)
    key = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.PENDING, blank=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("доставка события")
        verbose_name_plural = _("доставки событий")
        indexes = [
            models.Index(
                fields=["portal", "event", "entity_id"], name="delivery_by_entity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.entity_id or '-'}"

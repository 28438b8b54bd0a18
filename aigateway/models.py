"""Keys, registered AI vendors, dialog mappings and blocked clients of the gateway."""

from datetime import timedelta
from urllib.parse import urlsplit

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from b24app import crypto
from integrator.models import Portal

YANDEX_HOST_SUFFIXES = ("yandex.net", "yandex.ru", "yandexcloud.net")

vendor_code_validator = RegexValidator(
    r"^[a-z][a-z0-9_.\-]{0,39}$",
    _("Код поставщика: латинские строчные буквы, цифры, «_», «.», «-»."),
)
country_validator = RegexValidator(
    r"^[A-Z]{2}$", _("Код страны по ISO 3166-1 alpha-2, например RU.")
)


class ApiKey(models.Model):
    """A key an integration sends as ``Authorization: Bearer pdn_…``.

    Only the SHA-256 of the key is stored: the key is 32 random bytes, so a
    digest cannot be brute-forced and, unlike an HMAC under the master key,
    stays valid across master-key rotation.
    """

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(_("название"), max_length=100, blank=True)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("ключ ИИ-шлюза")
        verbose_name_plural = _("ключи ИИ-шлюза")

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Upstream(models.Model):
    """An AI vendor the portal registered as its processor (152-FZ art. 6 §3).

    Text goes to a vendor only with a processor agreement (поручение) on
    record; a vendor abroad additionally needs the date the cross-border
    transfer notice went to Roskomnadzor (152-FZ art. 12).
    """

    class AuthScheme(models.TextChoices):
        BEARER = "Bearer", "Bearer"
        API_KEY = "Api-Key", "Api-Key (Yandex Cloud)"

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(
        _("код поставщика"), max_length=40, validators=[vendor_code_validator]
    )
    name = models.CharField(_("название"), max_length=100)
    base_url = models.URLField(_("адрес API"), max_length=255)
    country = models.CharField(
        _("страна"), max_length=2, default="RU", validators=[country_validator]
    )
    processor_agreement_at = models.DateField(
        _("дата поручения на обработку"), null=True, blank=True
    )
    cross_border_notice_at = models.DateField(
        _("дата уведомления РКН о трансграничной передаче"), null=True, blank=True
    )
    is_yandex = models.BooleanField(_("Yandex Cloud"), default=False)
    # What integrations ask for → what the vendor calls it.
    model_map = models.JSONField(_("модели"), default=dict)
    auth_scheme = models.CharField(
        max_length=16, choices=AuthScheme.choices, default=AuthScheme.BEARER
    )
    api_key_sealed = models.TextField(blank=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=60)
    enabled = models.BooleanField(_("включён"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("ИИ-поставщик")
        verbose_name_plural = _("ИИ-поставщики")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "code"], name="aigateway_upstream_code_per_portal"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def _key_purpose(self) -> str:
        return f"aigateway-upstream-key:{self.portal.member_id}"

    @property
    def api_key(self) -> str:
        if not self.api_key_sealed:
            return ""
        return crypto.unseal(self.api_key_sealed, purpose=self._key_purpose)

    def set_api_key(self, key: str) -> None:
        self.api_key_sealed = crypto.seal(key, purpose=self._key_purpose) if key else ""

    @property
    def host(self) -> str:
        return (urlsplit(self.base_url).hostname or "").lower()

    @property
    def sends_to_yandex(self) -> bool:
        """Yandex Cloud keeps requests unless told not to, so it gets the header."""
        host = self.host
        return self.is_yandex or any(
            host == suffix or host.endswith("." + suffix)
            for suffix in YANDEX_HOST_SUFFIXES
        )

    @property
    def is_abroad(self) -> bool:
        return self.country.upper() != "RU"

    def refusal(self) -> str | None:
        """Why no text may go to this vendor now, as an error code; None if it may."""
        today = timezone.localdate()
        if not self.enabled:
            return "upstream_disabled"
        if self.processor_agreement_at is None or self.processor_agreement_at > today:
            return "no_processor_agreement"
        if self.is_abroad and (
            self.cross_border_notice_at is None or self.cross_border_notice_at > today
        ):
            return "cross_border_not_notified"
        return None


class DialogMapping(models.Model):
    """A dialog's placeholders and the real values behind them, sealed.

    The mapping lives as long as the dialog: each use pushes ``expires_at``
    forward, and the purge deletes it once the dialog has been quiet that long.
    """

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    dialog_id = models.CharField(max_length=128)
    client_ref = models.CharField(max_length=64, blank=True)
    mapping_sealed = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("соответствия диалога")
        verbose_name_plural = _("соответствия диалогов")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "dialog_id"], name="aigateway_dialog_per_portal"
            )
        ]
        indexes = [models.Index(fields=["expires_at"], name="aigateway_dialog_expiry")]

    def __str__(self) -> str:
        return self.dialog_id

    @property
    def _purpose(self) -> str:
        return f"aigateway-dialog:{self.portal.member_id}"

    def mapping_json(self) -> str:
        if not self.mapping_sealed:
            return ""
        return crypto.unseal(self.mapping_sealed, purpose=self._purpose)

    def seal_mapping(self, mapping_json: str) -> None:
        self.mapping_sealed = crypto.seal(mapping_json, purpose=self._purpose)

    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    def touch(self, ttl: timedelta) -> None:
        self.last_used_at = timezone.now()
        self.expires_at = self.last_used_at + ttl


class BlockedClient(models.Model):
    """A client whose data the gateway must no longer process.

    Written by the consent ledger when consent is withdrawn (and by anything
    else that stops processing, such as an erasure request); read by
    ``consent_gate.processing_allowed``.
    """

    class Reason(models.TextChoices):
        CONSENT_WITHDRAWN = "consent_withdrawn", _("Согласие отозвано")
        ERASURE_REQUESTED = "erasure_requested", _("Требование об уничтожении")
        OBJECTION = "objection", _("Возражение против обработки")
        OTHER = "other", _("Другое")

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    client_ref = models.CharField(max_length=64)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    blocked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("клиент без обработки")
        verbose_name_plural = _("клиенты без обработки")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "client_ref"], name="aigateway_blocked_per_portal"
            )
        ]

    def __str__(self) -> str:
        return self.client_ref

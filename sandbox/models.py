"""State of the sandbox portal: portals, users, the app, tokens, CRM, events."""

import secrets
from datetime import datetime
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

PLAN_LIMITS = {
    # plan: (drain per second, burst) of the leaky bucket
    "free": (2.0, 50),
    "basic": (2.0, 50),
    "standard": (2.0, 50),
    "professional": (2.0, 50),
    "enterprise": (5.0, 250),
}
PLAN_STATUS = {"free": "F", "basic": "P", "standard": "P", "professional": "P"}


def new_member_id() -> str:
    return secrets.token_hex(16)


def new_token() -> str:
    return secrets.token_hex(16)


class Clock(models.Model):
    """One row: the sandbox's notion of now (offset, or frozen at a moment)."""

    offset_seconds = models.FloatField(default=0.0)
    frozen_at = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"clock {self.offset_seconds:+}s"


class Portal(models.Model):
    """A Bitrix24 account; ``slug`` "" is the demo portal at the sandbox origin."""

    slug = models.CharField(max_length=64, unique=True, blank=True)
    title = models.CharField(max_length=200, default="")
    member_id = models.CharField(max_length=64, unique=True, default=new_member_id)
    plan = models.CharField(max_length=32, default="standard")
    license = models.CharField(max_length=32, default="ru_std")
    time_zone = models.CharField(max_length=64, default="Europe/Moscow")
    language = models.CharField(max_length=8, default="ru")
    bucket_rate = models.FloatField(null=True, blank=True)
    bucket_burst = models.IntegerField(null=True, blank=True)
    operating_limit = models.FloatField(default=480.0)
    access_ttl = models.IntegerField(default=3600)
    refresh_ttl = models.IntegerField(default=180 * 86400)
    # Fault switches, see sandbox.faults for the keys.
    faults = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.slug or "(default)"

    def limits(self) -> tuple[float, int]:
        rate, burst = PLAN_LIMITS.get(self.plan, PLAN_LIMITS["standard"])
        if self.bucket_rate is not None:
            rate = self.bucket_rate
        if self.bucket_burst is not None:
            burst = self.bucket_burst
        return rate, burst

    @property
    def status_letter(self) -> str:
        return PLAN_STATUS.get(self.plan, "P")


class PortalMove(models.Model):
    """An old address of a portal: requests to it answer 302 to the new one."""

    old_slug = models.CharField(max_length=64, unique=True, blank=True)
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="moves")

    def __str__(self) -> str:
        return f"{self.old_slug} -> {self.portal_id}"


class User(models.Model):
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="users")
    uid = models.IntegerField()
    name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, default="", blank=True)
    email = models.CharField(max_length=200, default="", blank=True)
    is_admin = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    work_position = models.CharField(max_length=200, default="", blank=True)
    gender = models.CharField(max_length=1, default="", blank=True)
    # Rights on leads: "all", "own" (assigned to them), "none" (outsider).
    crm_access = models.CharField(max_length=8, default="all")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portal", "uid"], name="sb_user_uid")
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.name} {self.last_name}".strip()


class AppRegistration(models.Model):
    """The marketplace form of an application (one per client_id)."""

    client_id = models.CharField(max_length=128, unique=True)
    client_secret = models.CharField(max_length=128)
    code = models.CharField(max_length=128, default="pdnguard")
    title = models.CharField(max_length=200, default="PDn Guard")
    version = models.CharField(max_length=16, default="1")
    # "" means settings.APP_BASE_URL, read at request time.
    base_url = models.CharField(max_length=300, default="", blank=True)
    install_path = models.CharField(max_length=300, default="/b24/install/")
    install_event_path = models.CharField(max_length=300, default="/b24/events/")
    app_path = models.CharField(max_length=300, default="/b24/app/")
    redirect_path = models.CharField(max_length=300, default="/b24/oauth/callback/")
    scope = models.CharField(
        max_length=300,
        default="crm,placement,imbot,imopenlines,im,userconsent,user_brief",
    )

    def __str__(self) -> str:
        return self.client_id

    def scopes(self) -> set[str]:
        return {s.strip() for s in self.scope.replace(" ", ",").split(",") if s}


class Install(models.Model):
    portal = models.ForeignKey(
        Portal, on_delete=models.CASCADE, related_name="installs"
    )
    app = models.ForeignKey(AppRegistration, on_delete=models.CASCADE)
    application_token = models.CharField(max_length=64, default=new_token)
    installed = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    installed_by = models.IntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portal", "app"], name="sb_install_once")
        ]

    def __str__(self) -> str:
        return f"install {self.pk} on portal {self.portal_id}"


class Token(models.Model):
    """One access/refresh pair; a refresh kills it and starts the next link."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="tokens")
    app = models.ForeignKey(AppRegistration, on_delete=models.CASCADE)
    user_uid = models.IntegerField()
    chain = models.CharField(max_length=32, default=new_token)
    access_token = models.CharField(max_length=64, unique=True, default=new_token)
    refresh_token = models.CharField(max_length=64, unique=True, default=new_token)
    access_expires_at = models.FloatField()
    refresh_expires_at = models.FloatField()
    alive = models.BooleanField(default=True)
    rotated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"token {self.pk} (user {self.user_uid})"


class AuthCode(models.Model):
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    app = models.ForeignKey(AppRegistration, on_delete=models.CASCADE)
    user_uid = models.IntegerField()
    code = models.CharField(max_length=64, unique=True, default=new_token)
    expires_at = models.FloatField()
    used = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"code {self.pk}"


class Webhook(models.Model):
    """An incoming webhook: /rest/<user>/<code>/<method>."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    user_uid = models.IntegerField()
    code = models.CharField(max_length=64, unique=True, default=new_token)
    scope = models.CharField(max_length=300, default="crm,user_brief")

    def __str__(self) -> str:
        return f"webhook {self.pk} (user {self.user_uid})"


class Lead(models.Model):
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="leads")
    title = models.CharField(max_length=255, default="", blank=True)
    name = models.CharField(max_length=100, default="", blank=True)
    second_name = models.CharField(max_length=100, default="", blank=True)
    last_name = models.CharField(max_length=100, default="", blank=True)
    status_id = models.CharField(max_length=50, default="NEW")
    source_id = models.CharField(max_length=50, default="", blank=True)
    source_description = models.TextField(default="", blank=True)
    comments = models.TextField(default="", blank=True)
    opportunity = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    currency_id = models.CharField(max_length=8, default="RUB")
    assigned_by_id = models.IntegerField(default=1)
    created_by_id = models.IntegerField(default=1)
    modify_by_id = models.IntegerField(default=1)
    opened = models.CharField(max_length=1, default="Y")
    date_create = models.DateTimeField()
    date_modify = models.DateTimeField()
    date_closed = models.DateTimeField(null=True, blank=True)
    uf = models.JSONField(default=dict, blank=True)
    # Rarely used standard fields (POST, ADDRESS_*, UTM_*, …) as strings.
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["portal", "date_create"])]

    def __str__(self) -> str:
        return f"lead {self.pk}"


class Multifield(models.Model):
    """A PHONE/EMAIL/WEB/IM row of a lead, with an ID of its own."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="fm")
    type_id = models.CharField(max_length=16)
    value_type = models.CharField(max_length=16, default="WORK")
    value = models.CharField(max_length=255)

    def __str__(self) -> str:
        return f"{self.type_id} {self.pk} of lead {self.lead_id}"


class LeadUserField(models.Model):
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    field_name = models.CharField(max_length=50)
    user_type_id = models.CharField(max_length=50)
    xml_id = models.CharField(max_length=100, default="", blank=True)
    sort = models.IntegerField(default=100)
    multiple = models.CharField(max_length=1, default="N")
    mandatory = models.CharField(max_length=1, default="N")
    show_filter = models.CharField(max_length=1, default="N")
    show_in_list = models.CharField(max_length=1, default="Y")
    edit_in_list = models.CharField(max_length=1, default="Y")
    is_searchable = models.CharField(max_length=1, default="N")
    settings = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    enum_list = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "field_name"], name="sb_uf_name_once"
            )
        ]

    def __str__(self) -> str:
        return self.field_name


class TimelineComment(models.Model):
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    entity_type = models.CharField(max_length=32)
    entity_id = models.IntegerField()
    comment = models.TextField()
    author_uid = models.IntegerField()
    created = models.DateTimeField()

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.entity_type} {self.entity_id}"


class EventBinding(models.Model):
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    app = models.ForeignKey(AppRegistration, on_delete=models.CASCADE)
    event = models.CharField(max_length=100)
    handler = models.CharField(max_length=500)
    auth_type = models.IntegerField(default=0)
    offline = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.event} -> binding {self.pk}"


class PlacementBinding(models.Model):
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    app = models.ForeignKey(AppRegistration, on_delete=models.CASCADE)
    placement = models.CharField(max_length=100)
    handler = models.CharField(max_length=500)
    title = models.CharField(max_length=200, default="", blank=True)
    description = models.CharField(max_length=500, default="", blank=True)
    group_name = models.CharField(max_length=200, default="", blank=True)
    lang_all = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    user_uid = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.placement} -> binding {self.pk}"


class EventDelivery(models.Model):
    """One attempt (or deliberate non-attempt) to deliver an event."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("в очереди")
        DELIVERED = "delivered", _("доставлено")
        FAILED = "failed", _("ошибка")
        DROPPED = "dropped", _("потеряно")

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    event = models.CharField(max_length=100)
    handler = models.CharField(max_length=500)
    body = models.TextField()
    outcome = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.PENDING
    )
    http_status = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, default="", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.event} delivery {self.pk}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "event": self.event,
            "handler": self.handler,
            "body": self.body,
            "outcome": self.outcome,
            "http_status": self.http_status,
            "error": self.error,
            "created_at": _iso(self.created_at),
            "finished_at": _iso(self.finished_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class ConsentRecord(models.Model):
    """userconsent.consent.add: write-only on Bitrix24, kept here for tests."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    agreement_id = models.IntegerField()
    ip = models.CharField(max_length=45)
    user_uid = models.IntegerField(null=True, blank=True)
    url = models.CharField(max_length=500, default="", blank=True)
    origin_id = models.CharField(max_length=200, default="", blank=True)
    originator_id = models.CharField(max_length=200, default="", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"consent {self.pk} to agreement {self.agreement_id}"


class Bot(models.Model):
    """A chat bot registered by an app with imbot.register."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    app = models.ForeignKey(AppRegistration, on_delete=models.CASCADE)
    code = models.CharField(max_length=100)
    bot_type = models.CharField(max_length=1, default="B")
    openline = models.CharField(max_length=1, default="N")
    handler_message_add = models.CharField(max_length=500)
    handler_welcome = models.CharField(max_length=500)
    handler_delete = models.CharField(max_length=500)
    properties = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"bot {self.pk} ({self.code})"


class Chat(models.Model):
    """An open-line chat with an outside client, bound to a lead."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE)
    lead_id = models.IntegerField()
    connector = models.CharField(max_length=50, default="telegrambot")
    line_id = models.IntegerField(default=1)
    session_id = models.IntegerField(default=1)
    client_name = models.CharField(max_length=200, default="")
    client_uid = models.IntegerField(default=1000)
    buttons_rendered = models.BooleanField(default=False)
    # imopenlines.bot.session.operator moved the chat from its bot to people.
    operator_mode = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"chat{self.pk}"


class ChatMessage(models.Model):
    class Author(models.TextChoices):
        CLIENT = "client", _("клиент")
        BOT = "bot", _("бот")
        OPERATOR = "operator", _("оператор")
        SYSTEM = "system", _("система")

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=16, choices=Author.choices)
    author_id = models.IntegerField()
    text = models.TextField()
    keyboard = models.JSONField(default=list, blank=True)
    system = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"message {self.pk} in chat {self.chat_id}"

"""What the app puts into a portal: event handlers, the lead tab, lead fields.

Setup runs on every install, reinstall and update (Bitrix24 drops an app's
handlers and placements on uninstall and update) and must duplicate nothing:
each step reads what is there first (``event.get``, ``placement.get``,
``crm.lead.userfield.list``) and adds only what is missing. Two runs may
overlap (the wizard, and a worker woken by ONAPPINSTALL): a per-portal lock
in Redis makes the second wait and then find everything in place. Without
Redis (the zero-configuration demo) the portal's own refusals ("Handler
already binded", "Process of binding the handler has already started", a
field that now exists) are taken as done.
"""

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrator import errors
from integrator.models import Portal
from integrator.pacing import redis_client
from integrator.rest import portal_client

logger = logging.getLogger(__name__)

EVENTS = (
    "ONCRMLEADADD",
    "ONCRMLEADUPDATE",
    "ONCRMLEADDELETE",
    "ONAPPUPDATE",
    "ONAPPUNINSTALL",
)
LEAD_TAB = "CRM_LEAD_DETAIL_TAB"
TAB_TITLE = "PDn Guard"

EVENTS_PATH = "/b24/events/"
LEAD_TAB_PATH = "/b24/placement/lead-tab/"

# Refusals that mean "someone already did this".
_ALREADY = ("already binded", "already bound", "already started")


@dataclass(frozen=True)
class UserField:
    """A lead field the app keeps; ``name`` without the ``UF_CRM_`` prefix."""

    name: str
    type_id: str
    label_ru: str
    label_en: str
    editable: bool = False

    @property
    def full_name(self) -> str:
        return f"UF_CRM_{self.name}"

    def as_params(self) -> dict[str, Any]:
        labels = {"ru": self.label_ru, "en": self.label_en}
        # Bitrix24 adds UF_CRM_ itself; sending it would be kept, but the bare
        # name is what its documentation shows and what a reader expects.
        return {
            "FIELD_NAME": self.name,
            "USER_TYPE_ID": self.type_id,
            "XML_ID": f"PDN_GUARD_{self.name}",
            "LABEL": self.label_ru,
            "EDIT_FORM_LABEL": labels,
            "LIST_COLUMN_LABEL": labels,
            "LIST_FILTER_LABEL": labels,
            "MULTIPLE": "N",
            "MANDATORY": "N",
            "SHOW_FILTER": "N",
            "EDIT_IN_LIST": "Y" if self.editable else "N",
            "IS_SEARCHABLE": "N",
        }


USER_FIELDS = (
    UserField("PDN_ORIGINAL_PHONE", "string", "Телефон (защищён)", "Phone (protected)"),
    UserField("PDN_PHONE_HASH", "string", "Псевдоним телефона", "Phone pseudonym"),
    UserField("PDN_CONSENT", "string", "Согласие на обработку ПДн", "PD consent"),
    UserField("PDN_CONSENT_AT", "datetime", "Дата согласия", "Consent date"),
    UserField("PDN_CONSENT_TEXT", "string", "Версия текста согласия", "Consent text"),
)


@dataclass
class Step:
    code: str
    label: str
    done: bool = False
    error: str = ""


@dataclass
class SetupReport:
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.done for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "steps": [
                {
                    "code": s.code,
                    "label": str(s.label),
                    "done": s.done,
                    "error": s.error,
                }
                for s in self.steps
            ],
        }


def handler_url(path: str) -> str:
    return f"{settings.APP_BASE_URL}{path}"


def _already(exc: errors.B24Error) -> bool:
    text = f"{exc.code} {exc.description}".lower()
    return isinstance(exc, errors.PermanentError) and any(p in text for p in _ALREADY)


def _bind_events(call: Callable[..., Any]) -> None:
    target = handler_url(EVENTS_PATH)
    bound = call("event.get") or []
    present = {
        str(row.get("event", "")).upper()
        for row in bound
        if isinstance(row, dict) and row.get("handler") == target
    }
    for event in EVENTS:
        if event in present:
            continue
        try:
            call("event.bind", {"event": event, "handler": target})
        except errors.B24Error as exc:
            if not _already(exc):
                raise


def _bind_lead_tab(call: Callable[..., Any]) -> None:
    target = handler_url(LEAD_TAB_PATH)
    bound = call("placement.get") or []
    for row in bound:
        if not isinstance(row, dict):
            continue
        if row.get("placement") == LEAD_TAB and row.get("handler") == target:
            return
    try:
        call(
            "placement.bind",
            {
                "PLACEMENT": LEAD_TAB,
                "HANDLER": target,
                "TITLE": TAB_TITLE,
                "DESCRIPTION": "Согласия и защита персональных данных",
                "LANG_ALL": {
                    "ru": {
                        "TITLE": TAB_TITLE,
                        "DESCRIPTION": "Согласия и защита персональных данных",
                    },
                    "en": {
                        "TITLE": TAB_TITLE,
                        "DESCRIPTION": "Consent and personal data protection",
                    },
                },
            },
        )
    except errors.B24Error as exc:
        if not _already(exc):
            raise


def _add_user_fields(call: Callable[..., Any]) -> None:
    for spec in USER_FIELDS:
        existing = call(
            "crm.lead.userfield.list",
            {"filter": {"FIELD_NAME": spec.full_name}, "order": {"ID": "ASC"}},
        )
        if existing:
            continue
        try:
            call("crm.lead.userfield.add", {"fields": spec.as_params()})
        except errors.B24Error:
            # A concurrent run may have added it a moment ago: look again.
            if not call(
                "crm.lead.userfield.list", {"filter": {"FIELD_NAME": spec.full_name}}
            ):
                raise


def _register_bot(call: Callable[..., Any]) -> None:
    from integrator import bot

    target = handler_url(bot.BOT_PATH)
    registered = call("imbot.bot.list") or {}
    rows = registered.values() if isinstance(registered, dict) else registered
    for row in rows:
        if isinstance(row, dict) and row.get("CODE") == bot.BOT_CODE:
            return
    call("imbot.register", bot.bot_params(target))


STEPS: tuple[tuple[str, Any, Callable[[Callable[..., Any]], None]], ...] = (
    ("events", _("Подписка на события лидов и приложения"), _bind_events),
    ("lead_tab", _("Вкладка «PDn Guard» в карточке лида"), _bind_lead_tab),
    ("user_fields", _("Поля лида для телефона и согласия"), _add_user_fields),
    ("consent_bot", _("Чат-бот открытых линий для согласий"), _register_bot),
)


LOCK_TTL = 120.0


@contextlib.contextmanager
def setup_lock(member_id: str) -> Iterator[None]:
    """One setup at a time per portal, across processes (no-op without Redis)."""
    url: str = settings.REDIS_URL
    if not url:
        yield
        return
    lock = redis_client(url).lock(
        f"b24:setup-lock:{member_id}", timeout=LOCK_TTL, blocking_timeout=LOCK_TTL
    )
    if not lock.acquire():
        raise errors.Transient("setup_lock_busy", "another setup holds the portal")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            lock.release()


def portal_setup(*, portal_id: int) -> SetupReport:
    """Bind events and the lead tab and add the lead fields, skipping what exists."""
    portal = Portal.objects.get(pk=portal_id)
    with setup_lock(portal.member_id):
        return _setup(portal)


def _setup(portal: Portal) -> SetupReport:
    client = portal_client(portal)
    report = SetupReport()

    for code, label, run in STEPS:
        step = Step(code=code, label=label)
        report.steps.append(step)
        try:
            run(client.call)
        except errors.B24Error as exc:
            step.error = _explain(exc)
            logger.warning(
                "setup of portal %s: step %s failed: %s",
                portal.member_id,
                code,
                exc.code,
            )
            break
        step.done = True

    _record(portal, report)
    return report


def _explain(exc: errors.B24Error) -> str:
    if isinstance(exc, errors.PermissionDenied):
        return str(_("Недостаточно прав: установите приложение как администратор."))
    if isinstance(exc, errors.AuthError):
        return str(_("Битрикс24 не принял ключ доступа приложения."))
    if isinstance(exc, errors.PaymentRequired):
        return str(_("Подписка на приложение не оплачена."))
    if isinstance(exc, errors.Transient):
        return str(_("Битрикс24 временно не отвечает, повторите позже."))
    return str(_("Битрикс24 отказал: {code}")).format(code=exc.code or "ошибка")


def _record(portal: Portal, report: SetupReport) -> None:
    fields: dict[str, Any] = {}
    if report.ok:
        fields["setup_completed_at"] = timezone.now()
        if portal.status == Portal.Status.INSTALLING:
            fields["status"] = Portal.Status.ACTIVE
        if portal.status_reason.startswith("setup:"):
            fields["status_reason"] = ""
    else:
        failed = next(step for step in report.steps if not step.done)
        fields["status_reason"] = f"setup: {failed.code}: {failed.error}"[:255]
    # Only the setup's own columns: a concurrent token refresh keeps its write.
    Portal.objects.filter(pk=portal.pk).update(**fields)

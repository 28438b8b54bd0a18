"""Background work of the consent ledger: tasks take ids and call functions."""

import logging
from typing import Any

from celery import Task, shared_task
from django.db import transaction

from compliance.consent import conversation, ledger, mirror
from compliance.consent.models import ChatTurn, ConsentEvent, LeadMirror
from integrator import errors
from integrator.models import Portal
from integrator.rest import portal_client

logger = logging.getLogger(__name__)

MAX_RETRIES = 8


def lead_mirror(*, event_id: int) -> LeadMirror | None:
    """Write one ledger event to its lead: the fields, then one timeline comment.

    Runs again harmlessly: the fields are rewritten from the current status
    and the comment is skipped once the event is marked mirrored. A crash
    between the comment and the mark may repeat the comment, never lose it.
    """
    with transaction.atomic():
        # The event row is the lock: the task and a retry of it (or a manual
        # run) mirroring at once would both add the timeline comment.
        event = (
            ConsentEvent.objects.select_for_update()
            .select_related("portal")
            .filter(pk=event_id)
            .first()
        )
        if event is None or event.lead_id is None:
            return None
        done = LeadMirror.objects.filter(event=event).first()
        if done is not None:
            return done
        if event.portal.status != Portal.Status.ACTIVE:
            return None

        client = portal_client(event.portal)
        statuses = ledger.lead_statuses(portal=event.portal, lead_id=event.lead_id)
        client.call(
            "crm.lead.update",
            {"id": event.lead_id, "fields": mirror.lead_fields(statuses)},
        )
        comment_id = client.call(
            "crm.timeline.comment.add",
            {
                "fields": {
                    "ENTITY_ID": event.lead_id,
                    "ENTITY_TYPE": "lead",
                    "COMMENT": mirror.timeline_comment(event),
                }
            },
        )
        return LeadMirror.objects.create(
            event=event,
            timeline_comment_id=comment_id if isinstance(comment_id, int) else None,
        )


@shared_task(name="consent.mirror", bind=True, max_retries=MAX_RETRIES)
def consent_mirror(self: Task[Any, Any], *, event_id: int) -> None:
    """Mirror a ledger event into its lead; transient failures are retried."""
    try:
        lead_mirror(event_id=event_id)
    except errors.Transient as exc:
        if self.request.retries >= MAX_RETRIES:
            logger.warning("consent mirror %s gave up: %s", event_id, exc.code)
            return
        raise self.retry(countdown=exc.countdown(self.request.retries)) from None
    except errors.B24Error as exc:
        # The lead is gone, or the portal refuses for good: the ledger keeps
        # the evidence either way.
        logger.warning("consent mirror %s stopped: %s", event_id, exc.code)


class PortalChatSender:
    """The consent bot speaking through the portal's REST API.

    ``imbot.message.add`` with the bot's id posts into the open-line chat
    (Bitrix24 relays it to the messenger); ``imopenlines.bot.session.operator``
    gives the chat to the line's operators.
    """

    def __init__(self, portal: Portal) -> None:
        self.client = portal_client(portal)

    def send(
        self,
        *,
        bot_id: int,
        dialog_id: str,
        text: str,
        keyboard: list[dict[str, str]] | None = None,
    ) -> int:
        params: dict[str, Any] = {
            "BOT_ID": bot_id,
            "DIALOG_ID": dialog_id,
            "MESSAGE": text,
            "URL_PREVIEW": "N",
        }
        if keyboard:
            params["KEYBOARD"] = {"BUTTONS": keyboard}
        result = self.client.call("imbot.message.add", params)
        return (
            int(result)
            if isinstance(result, int | str) and str(result).isdigit()
            else 0
        )

    def hand_over(self, *, chat_id: int) -> None:
        self.client.call("imopenlines.bot.session.operator", {"CHAT_ID": chat_id})


@shared_task(name="consent.chat_turn", bind=True, max_retries=MAX_RETRIES)
def consent_chat_turn(self: Task[Any, Any], *, turn_id: int, portal_id: int) -> None:
    """Answer one open-line message; ``portal_id`` names it in logs."""
    portal = Portal.objects.filter(pk=portal_id).first()
    if portal is None or portal.status != Portal.Status.ACTIVE:
        return
    try:
        conversation.turn_process(turn_id=turn_id, sender=PortalChatSender(portal))
    except errors.Transient as exc:
        if self.request.retries >= MAX_RETRIES:
            logger.warning("chat turn %s gave up: %s", turn_id, exc.code)
            return
        raise self.retry(countdown=exc.countdown(self.request.retries)) from None
    except errors.B24Error as exc:
        logger.warning("chat turn %s stopped: %s", turn_id, exc.code)


def turn_enqueue(turn: ChatTurn) -> None:
    """Process a stored message after the transaction that stored it commits."""
    turn_id, portal_id = turn.pk, turn.portal_id
    transaction.on_commit(
        lambda: consent_chat_turn.delay(turn_id=turn_id, portal_id=portal_id)
    )

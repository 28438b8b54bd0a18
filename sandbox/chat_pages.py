"""The open line in the portal's UI: a client's messenger, and the chat itself.

A tester writes as the client (a new chat, then replies); the page shows the
chat as the client's messenger would: bot keyboards only when the chat's
``buttons_rendered`` says the messenger draws them.
"""

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from sandbox import openlines, ui
from sandbox.models import Chat, Portal
from sandbox.portals import portal_prefix
from sandbox.router import SANDBOX_DB

CONNECTORS = (
    ("telegrambot", "Telegram"),
    ("whatsappbyedna", "WhatsApp"),
    ("fbinstagramdirect", "Instagram"),
    ("livechat", "Чат на сайте"),
)


def line_page(request: HttpRequest, slug: str = "") -> HttpResponse:
    portal = ui._portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    context = ui._context(
        request,
        portal,
        section="openlines",
        chats=Chat.objects.filter(portal=portal).order_by("-pk"),
        connectors=CONNECTORS,
    )
    return ui._render(request, "openlines.html", context)


@require_POST
def chat_new(request: HttpRequest, slug: str = "") -> HttpResponse:
    """A client writes to the line for the first time: chat, lead, message."""
    portal = ui._portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    text = request.POST.get("text", "").strip()
    connector = request.POST.get("connector", "")
    if not text or connector not in dict(CONNECTORS):
        return HttpResponseRedirect(f"{portal_prefix(portal)}/openlines/")
    with transaction.atomic(using=SANDBOX_DB):
        chat = openlines.chat_open(
            portal=portal,
            client_name=request.POST.get("client_name", "").strip() or "Клиент",
            lead_id=None,
            connector=connector,
        )
        if request.POST.get("buttons_rendered"):
            chat.buttons_rendered = True
            chat.save(update_fields=["buttons_rendered"])
        openlines.client_writes(chat=chat, text=text)
    return HttpResponseRedirect(f"{portal_prefix(portal)}/openlines/chat/{chat.pk}/")


def _chat(portal: Portal, chat_id: int) -> Chat:
    chat = Chat.objects.filter(portal=portal, pk=chat_id).first()
    if chat is None:
        raise Http404("no such chat")
    return chat


def chat_page(request: HttpRequest, chat_id: int, slug: str = "") -> HttpResponse:
    portal = ui._portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    chat = _chat(portal, chat_id)
    context = ui._context(
        request,
        portal,
        section="openlines",
        chat=chat,
        chat_messages=chat.messages.order_by("pk"),
    )
    return ui._render(request, "chat.html", context)


@require_POST
def chat_write(request: HttpRequest, chat_id: int, slug: str = "") -> HttpResponse:
    """The client's next message (typed, or sent by a keyboard button)."""
    portal = ui._portal(request, slug)
    if isinstance(portal, HttpResponse):
        return portal
    chat = _chat(portal, chat_id)
    text = request.POST.get("text", "").strip()
    if text:
        with transaction.atomic(using=SANDBOX_DB):
            openlines.client_writes(chat=chat, text=text)
    return HttpResponseRedirect(f"{portal_prefix(portal)}/openlines/chat/{chat.pk}/")

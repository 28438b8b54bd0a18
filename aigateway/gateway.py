"""A chat completion through the gateway: pseudonymise, forward, restore, journal.

1. Parse the OpenAI request and pick the registered vendor for its model.
2. Under the dialog's row lock: check the client may still be processed,
   replace personal data in every message with the dialog's placeholders,
   save the sealed mapping, and journal what is about to leave ("no entry,
   no transfer").
3. Forward to the vendor; restore the real values in its answer (chunk by
   chunk when streaming) and journal how it went. The journal gets the
   vendor, counts per kind of data and durations, never text.
"""

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from django.db import transaction

from aigateway import consent_gate, dialogs
from aigateway.errors import GatewayError, forbidden, invalid
from aigateway.models import ApiKey, Upstream
from aigateway.upstreams import upstream_for_model, upstream_post
from compliance.journal import Actor, journal_record
from pii import Kind, Mapping, Pseudonymiser, StreamRestorer

logger = logging.getLogger(__name__)

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
DIALOG_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
# Fields that name our client, not anything the vendor needs to see.
NOT_FORWARDED = frozenset({"user", "pdn_dialog_id", "pdn_client_ref"})
MAX_MESSAGES = 500
# Text that already reads like a placeholder was typed by someone, not made
# here: left as it is, the answer would restore it and hand whoever typed
# "[ИМЯ_2]" a value from elsewhere in the dialog (say, the system prompt).
# Full-width brackets keep it readable and out of the restorer's reach.
TYPED_PLACEHOLDER = re.compile(
    r"\[(?P<inner>(?:{})_\d+)\]".format("|".join(k.value for k in Kind))
)
ACTOR = Actor(kind="api", role="ai_gateway")
TYPED = "typed_placeholders"


@dataclass
class ChatRequest:
    """A parsed request: the body as sent, and who and what it concerns."""

    body: dict[str, Any]
    model: str
    stream: bool
    dialog_id: str
    client_ref: str


@dataclass
class Outbound:
    """What goes to the vendor, and what is needed to read its answer."""

    upstream: Upstream
    payload: dict[str, Any]
    mapping: Mapping
    found: Counter[Kind | str] = field(default_factory=Counter)
    started: float = 0.0
    prepared: float = 0.0
    subject: str = ""


def chat_request_parse(
    raw: bytes, *, dialog_header: str, client_header: str
) -> ChatRequest:
    """Check the request's shape; 400 with a fixed message if it is wrong."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise invalid("invalid_json", "The request body is not valid JSON.") from error
    if not isinstance(body, dict):
        raise invalid("invalid_body", "The request body must be a JSON object.")

    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("missing_model", "'model' must be a non-empty string.")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise invalid("invalid_stream", "'stream' must be true or false.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("missing_messages", "'messages' must be a non-empty list.")
    if len(messages) > MAX_MESSAGES:
        raise invalid("too_many_messages", "Too many messages in one request.")
    for message in messages:
        _check_message(message)

    dialog_id = dialog_header or _str(body.get("pdn_dialog_id"))
    if dialog_id and not DIALOG_ID_RE.match(dialog_id):
        raise invalid(
            "invalid_dialog_id",
            "The dialog id must be 1-128 Latin letters, digits or _.:-",
        )
    client_ref = client_header or _str(body.get("pdn_client_ref"))
    if not client_ref and consent_gate.valid_client_ref(_str(body.get("user"))):
        client_ref = _str(body.get("user"))
    if client_ref and not consent_gate.valid_client_ref(client_ref):
        raise invalid(
            "invalid_client_ref", "The client reference must look like lead:1043."
        )
    return ChatRequest(body, model, stream, dialog_id, client_ref)


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _check_message(message: Any) -> None:
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise invalid(
            "invalid_message",
            "Each message must be an object with a known 'role'.",
        )
    content = message.get("content")
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid("invalid_content", "Message content must be text or parts.")
    for part in content:
        # Pictures and audio cannot be checked for personal data here.
        if not (
            isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        ):
            raise invalid(
                "unsupported_content",
                "Only text parts are accepted: other content cannot be "
                "checked for personal data.",
            )


def request_prepare(*, api_key: ApiKey, request: ChatRequest) -> Outbound:
    """Pick the vendor and pseudonymise the request under the dialog's lock.

    A refusal on legal grounds (403) is journaled, since it is the gateway
    keeping the law; malformed requests are not.
    """
    try:
        return _prepare(api_key, request)
    except GatewayError as error:
        if error.status == 403:
            client = request.client_ref
            journal_record(
                portal=api_key.portal,
                action="ai.request.refused",
                actor=ACTOR,
                subject=consent_gate.client_subject(client) if client else "",
                details={"api_key": api_key.pk, "reason": error.code},
            )
        raise


def _prepare(api_key: ApiKey, request: ChatRequest) -> Outbound:
    started = time.monotonic()
    portal = api_key.portal
    upstream, vendor_model = upstream_for_model(portal=portal, model=request.model)

    with transaction.atomic():
        row = None
        client_ref = request.client_ref
        if request.dialog_id:
            row = dialogs.dialog_lock(portal=portal, dialog_id=request.dialog_id)
            bound = "" if row.is_expired() else row.client_ref
            if bound and client_ref and bound != client_ref:
                raise invalid(
                    "dialog_client_mismatch",
                    "This dialog belongs to another client.",
                )
            client_ref = client_ref or bound
        if client_ref and not consent_gate.processing_allowed(portal, client_ref):
            raise forbidden(
                "consent_withdrawn",
                "The client withdrew consent: their data is no longer processed.",
            )

        mapping = dialogs.mapping_load(row) if row is not None else Mapping()
        pseudonymiser = Pseudonymiser(mapping)
        found: Counter[Kind | str] = Counter()
        messages = [
            _pseudonymise_message(m, pseudonymiser, found)
            for m in request.body["messages"]
        ]
        if row is not None:
            dialogs.mapping_store(row, mapping, client_ref=client_ref)

        subject = consent_gate.client_subject(client_ref) if client_ref else ""
        journal_record(
            portal=portal,
            action="ai.request.sent",
            actor=ACTOR,
            subject=subject,
            details={
                "vendor": upstream.code,
                "country": upstream.country.lower(),
                "api_key": api_key.pk,
                "stream": request.stream,
                "messages": len(messages),
                "dialog": bool(row),
                "yandex_logging_off": upstream.sends_to_yandex,
                **_counts(found),
            },
        )

    payload = {k: v for k, v in request.body.items() if k not in NOT_FORWARDED}
    payload["model"] = vendor_model
    payload["messages"] = messages
    return Outbound(
        upstream, payload, mapping, found, started, time.monotonic(), subject
    )


def _counts(found: Counter[Kind | str]) -> dict[str, int]:
    return {
        f"found_{kind.name.lower()}" if isinstance(kind, Kind) else kind: n
        for kind, n in sorted(found.items(), key=lambda item: str(item[0]))
        if n
    }


def _pseudonymise_message(
    message: dict[str, Any],
    pseudonymiser: Pseudonymiser,
    found: Counter[Kind | str],
) -> dict[str, Any]:
    def clean(text: str) -> str:
        text, typed = TYPED_PLACEHOLDER.subn(r"［\g<inner>］", text)
        out, spans = pseudonymiser.pseudonymise_spans(text)
        found.update(span.kind for span, _ in spans)
        found[TYPED] += typed
        return out

    # ``name`` is often the client's own name and cannot hold a placeholder.
    out = {k: v for k, v in message.items() if k != "name"}
    content = message.get("content")
    if isinstance(content, str):
        out["content"] = clean(content)
    elif isinstance(content, list):
        out["content"] = [{**part, "text": clean(part["text"])} for part in content]
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [_map_call(call, clean) for call in calls]
    return out


def _map_call(call: Any, change: Any) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    if isinstance(function, dict) and isinstance(function.get("arguments"), str):
        return {
            **call,
            "function": {**function, "arguments": change(function["arguments"])},
        }
    return call


def _journal_outcome(
    outbound: Outbound, api_key: ApiKey, outcome: str, **details: Any
) -> None:
    now = time.monotonic()
    try:
        journal_record(
            portal=api_key.portal,
            action=f"ai.request.{outcome}",
            actor=ACTOR,
            subject=outbound.subject,
            details={
                "vendor": outbound.upstream.code,
                "api_key": api_key.pk,
                "prepare_ms": round((outbound.prepared - outbound.started) * 1000),
                "total_ms": round((now - outbound.started) * 1000),
                **details,
            },
        )
    except Exception:
        # The transfer itself was journaled before it happened; a lost
        # outcome entry must not turn a delivered answer into an error.
        logger.exception("ai outcome entry failed vendor=%s", outbound.upstream.code)


def completion_forward(
    *, api_key: ApiKey, request: ChatRequest, outbound: Outbound
) -> dict[str, Any]:
    """Send a non-streaming request and return the vendor's answer, restored."""
    sent = time.monotonic()
    try:
        response = upstream_post(outbound.upstream, outbound.payload, stream=False)
        try:
            answer = response.json()
        except ValueError as error:
            raise GatewayError(
                502,
                "upstream_error",
                "upstream_bad_json",
                "The AI vendor's answer is not JSON.",
            ) from error
        if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
            raise GatewayError(
                502,
                "upstream_error",
                "upstream_bad_answer",
                "The AI vendor's answer is not a chat completion.",
            )
    except GatewayError as error:
        _journal_outcome(outbound, api_key, "failed", error=error.code)
        raise
    upstream_ms = round((time.monotonic() - sent) * 1000)

    pseudonymiser = Pseudonymiser(outbound.mapping)
    for choice in answer["choices"]:
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        if isinstance(message.get("content"), str):
            message["content"] = pseudonymiser.restore(message["content"])
        if isinstance(message.get("tool_calls"), list):
            message["tool_calls"] = [
                _map_call(call, pseudonymiser.restore) for call in message["tool_calls"]
            ]
    answer["model"] = request.model
    _journal_outcome(
        outbound,
        api_key,
        "answered",
        upstream_ms=upstream_ms,
        choices=len(answer["choices"]),
    )
    return answer


def stream_open(*, api_key: ApiKey, outbound: Outbound) -> requests.Response:
    """Start a streaming request; failures before the first byte are a 502."""
    try:
        return upstream_post(outbound.upstream, outbound.payload, stream=True)
    except GatewayError as error:
        _journal_outcome(outbound, api_key, "failed", error=error.code)
        raise


def stream_relay(
    *,
    api_key: ApiKey,
    request: ChatRequest,
    outbound: Outbound,
    response: requests.Response,
) -> Iterator[bytes]:
    """The vendor's server-sent events, restored, ending with ``[DONE]``.

    Each choice has its own restorer, which holds back text that may be the
    start of a placeholder until the next chunks show what it is.
    """
    restorers = _Restorers(outbound.mapping)
    sent = time.monotonic()
    last: dict[str, Any] = {}
    outcome, error_code, chunks = "answered", "", 0

    try:
        for line in response.iter_lines(chunk_size=None):
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            try:
                chunk = json.loads(data)
            except (UnicodeDecodeError, json.JSONDecodeError):
                outcome, error_code = "failed", "upstream_bad_chunk"
                yield _event(_stream_error(error_code))
                return
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:
                # The vendor's own message may quote the prompt: code only.
                outcome, error_code = "failed", "upstream_stream_error"
                break
            chunks += 1
            last = chunk
            for choice in chunk.get("choices") or []:
                restorers.restore_delta(choice)
            chunk["model"] = request.model
            yield _event(chunk)
        else:
            # No [DONE]: the connection ended early, the answer may be cut.
            outcome, error_code = "failed", "upstream_stream_truncated"

        tail = restorers.flush(last, request.model)
        if tail is not None:
            yield _event(tail)
        if error_code:
            yield _event(_stream_error(error_code))
            return
        yield b"data: [DONE]\n\n"
    except requests.RequestException:
        outcome, error_code = "failed", "upstream_stream_broken"
        yield _event(_stream_error(error_code))
    except GeneratorExit:
        outcome, error_code = "failed", "client_disconnected"
        raise
    finally:
        response.close()
        details: dict[str, Any] = {
            "upstream_ms": round((time.monotonic() - sent) * 1000),
            "chunks": chunks,
            "stream": True,
        }
        if error_code:
            details["error"] = error_code
        _journal_outcome(outbound, api_key, outcome, **details)


class _Restorers:
    """One stream restorer per choice of a streamed answer."""

    def __init__(self, mapping: Mapping) -> None:
        self._mapping = mapping
        self._open: dict[int, StreamRestorer] = {}
        self._closed: set[int] = set()

    def restore_delta(self, choice: Any) -> None:
        """Replace the choice's delta text with what can be restored so far."""
        if not isinstance(choice, dict) or not isinstance(choice.get("delta"), dict):
            return
        index = choice.get("index", 0)
        if not isinstance(index, int) or index in self._closed:
            return
        delta = choice["delta"]
        content = delta.get("content")
        restorer = self._open.setdefault(index, StreamRestorer(self._mapping))
        text = restorer.feed(content) if isinstance(content, str) else ""
        if choice.get("finish_reason") is not None:
            text += restorer.close()
            self._closed.add(index)
            del self._open[index]
        if isinstance(content, str) or text:
            delta["content"] = text

    def flush(self, last: dict[str, Any], model: str) -> dict[str, Any] | None:
        """A last chunk with text still held back, if the vendor never said it ended."""
        choices = []
        for index, restorer in sorted(self._open.items()):
            text = restorer.close()
            if text:
                choices.append(
                    {"index": index, "delta": {"content": text}, "finish_reason": None}
                )
        self._open.clear()
        if not choices:
            return None
        return {
            "id": last.get("id", ""),
            "object": "chat.completion.chunk",
            "created": last.get("created", int(time.time())),
            "model": model,
            "choices": choices,
        }


def _stream_error(code: str) -> dict[str, Any]:
    return GatewayError(
        502, "upstream_error", code, "The AI vendor's stream broke off."
    ).body()


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"

"""A local OpenAI-compatible model for tests and the demo: no network, no weights.

It answers ``POST /v1/chat/completions`` (plain and streamed) according to
the model name, and keeps every request it received so a test can prove no
personal data reached it:

- ``stub-echo``: the last user message, word for word;
- ``stub-reorder``: the placeholders of the last user message, last first;
- ``stub-repeat``: each placeholder of the last user message twice;
- ``stub-recall``: every placeholder it received in earlier requests, as a
  vendor mixing up conversations would answer;
- ``stub-fail``: HTTP 500; ``stub-garbage``: a body that is not JSON;
- ``stub-slow``: the echo after ``slow_seconds``;
- ``stub-truncate``: a stream that stops halfway, without ``[DONE]``;
- ``stub-stream-error``: a stream that reports an error after two chunks.

``GET /_stub/received`` lists what it received; ``POST /_stub/reset`` clears it.
Streamed answers are cut into pieces of ``chunk_size`` characters, or at the
positions in ``split_at`` when those are set.

Run it for the demo with ``python -m aigateway.stub --port 8090``.
"""

import argparse
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

PLACEHOLDER = re.compile(r"\[[А-ЯЁA-Z_]+_\d+\]")
StartResponse = Callable[..., Any]


class StubUpstream:
    """The WSGI application; one instance keeps one record of requests."""

    def __init__(
        self, *, api_key: str = "", chunk_size: int = 3, slow_seconds: float = 3.0
    ) -> None:
        self.api_key = api_key
        self.chunk_size = chunk_size
        self.split_at: list[int] | None = None
        self.slow_seconds = slow_seconds
        self._received: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._received)

    def reset(self) -> None:
        with self._lock:
            self._received.clear()
        self.split_at = None

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if method == "GET" and path == "/_stub/received":
            return _json(start_response, 200, {"received": self.received})
        if method == "POST" and path == "/_stub/reset":
            self.reset()
            return _json(start_response, 200, {"ok": True})
        if method != "POST" or path.rstrip("/") != "/v1/chat/completions":
            return _json(start_response, 404, _error("not found", "not_found"))

        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _json(start_response, 400, _error("bad json", "invalid_json"))
        with self._lock:
            earlier = json.dumps(
                [r["body"] for r in self._received], ensure_ascii=False
            )
            self._received.append({"headers": headers, "body": body})

        if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
            return _json(start_response, 401, _error("bad key", "invalid_api_key"))
        model = str(body.get("model", ""))
        if model == "stub-fail":
            return _json(start_response, 500, _error("stub failure", "server_error"))
        if model == "stub-garbage":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"<html>not json</html>"]
        if model == "stub-slow":
            time.sleep(self.slow_seconds)

        if model == "stub-recall":
            seen = dict.fromkeys(PLACEHOLDER.findall(earlier))
            answer = "Ранее: " + ", ".join(seen) + "."
        else:
            answer = _answer(model, body.get("messages") or [])
        if body.get("stream"):
            start_response(
                "200 OK",
                [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")],
            )
            return self._stream(model, answer)
        return _json(start_response, 200, _completion(model, answer))

    def _pieces(self, text: str) -> list[str]:
        if self.split_at is not None:
            cuts = [0, *sorted(p for p in self.split_at if 0 < p < len(text))]
            cuts.append(len(text))
            return [text[a:b] for a, b in itertools.pairwise(cuts)]
        size = max(1, self.chunk_size)
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]

    def _stream(self, model: str, answer: str) -> Iterator[bytes]:
        ident = f"chatcmpl-stub-{uuid.uuid4().hex[:12]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            payload = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return (
                b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"
            )

        yield chunk({"role": "assistant", "content": ""}, None)
        pieces = self._pieces(answer)
        if model == "stub-truncate":
            pieces = pieces[: len(pieces) // 2]
        for n, piece in enumerate(pieces):
            if model == "stub-stream-error" and n == 2:
                error = _error(f"failed after {''.join(pieces[:2])}", "stub_error")
                yield b"data: " + json.dumps(error, ensure_ascii=False).encode()
                yield b"\n\n"
                return
            yield chunk({"content": piece}, None)
        if model == "stub-truncate":
            return
        yield chunk({}, "stop")
        yield b"data: [DONE]\n\n"


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    str(p.get("text", "")) for p in content if isinstance(p, dict)
                )
    return ""


def _answer(model: str, messages: list[Any]) -> str:
    text = _last_user_text(messages)
    placeholders = PLACEHOLDER.findall(text)
    if model == "stub-reorder":
        return "Проверяю данные: " + ", ".join(reversed(placeholders)) + "."
    if model == "stub-repeat":
        return " ".join(f"{p} и снова {p}" for p in placeholders) or text
    return text


def _completion(model: str, answer: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-stub-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "stub_error", "code": code}}


def _json(start_response: StartResponse, status: int, payload: Any) -> list[bytes]:
    reasons = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
    body = json.dumps(payload, ensure_ascii=False).encode()
    start_response(
        f"{status} {reasons.get(status, 'Error')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local OpenAI-compatible stub model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--api-key", default="")
    parser.add_argument("--chunk-size", type=int, default=3)
    args = parser.parse_args(argv)

    app = StubUpstream(api_key=args.api_key, chunk_size=args.chunk_size)
    server = make_server(
        args.host,
        args.port,
        app,
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    print(f"stub model on http://{args.host}:{args.port}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

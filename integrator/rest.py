"""The Bitrix24 REST client every job of PDn Guard goes through.

Three ways in:

- :func:`portal_client` — background work with the portal's stored tokens;
  refreshes them (once, under the portal's lock) when a call says
  ``expired_token``.
- :func:`user_client` — a viewing user's ``AUTH_ID`` from a placement; never
  refreshes.
- :func:`webhook_client` — an inbound webhook URL (its path is the secret).

A :class:`Client` sends JSON bodies to ``client_endpoint + method``, paces
itself by the portal's leaky bucket (:mod:`integrator.pacing`), treats any
body with an ``error`` key as an error whatever the HTTP status, follows a
portal that moved (302 re-POSTed to the new host) and raises the typed errors
of :mod:`integrator.errors`.
"""

import json
import logging
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urljoin, urlsplit

import requests

from integrator import errors, oauth, phpquery
from integrator.errors import B24Error
from integrator.models import Portal
from integrator.pacing import Pacer, PacingConfig

logger = logging.getLogger(__name__)

BATCH_LIMIT = 50
PAGE_SIZE = 50
TIMEOUT = (5.0, 65.0)  # Bitrix24 cuts a request off at 60 s.
USER_AGENT = "PDnGuard/1.0"
REDIRECT_HOPS = 3

# Verbs of methods that only read: safe to repeat after a timeout or a 5xx.
READ_VERBS = {"get", "list", "fields", "info", "current", "admin", "access", "profile"}
# Someone is looking at a page: wait seconds, not minutes, then say so.
INTERACTIVE = PacingConfig(
    max_wait=5.0, limit_attempts=2, backoff_cap=1.0, transient_attempts=1
)
ItemShape = Literal["lead", "item"]
Params = Mapping[str, Any]


@dataclass(frozen=True)
class Envelope:
    """A successful answer: ``result`` plus paging and timing."""

    result: Any
    total: int | None = None
    next: int | None = None
    time: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> "Envelope":
        timing = body.get("time")
        return cls(
            result=body.get("result"),
            total=_int_or_none(body.get("total")),
            next=_int_or_none(body.get("next")),
            time=timing if isinstance(timing, Mapping) else {},
        )


@dataclass
class BatchResult:
    """Per-command outcomes of one or more batch calls, keyed by command name."""

    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, B24Error] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    nexts: dict[str, int] = field(default_factory=dict)

    def ok(self, key: str) -> bool:
        return key in self.results


@dataclass
class BulkOutcome:
    """What a bulk delete or update achieved per object ID."""

    done: list[int] = field(default_factory=list)
    failed: dict[int, B24Error] = field(default_factory=dict)

    @property
    def status(self) -> Literal["ok", "partial", "failed"]:
        if not self.failed:
            return "ok"
        return "partial" if self.done else "failed"


class Auth(Protocol):
    """How a client authenticates and where it sends requests."""

    endpoint: str
    bucket_key: str

    def token(self) -> str | None: ...

    def refreshed(self, stale: str | None) -> str | None: ...

    def newer(self) -> str | None: ...

    def moved(self, endpoint: str) -> None: ...


class PortalAuth:
    """The portal's stored tokens; refreshes once per expiry under its lock."""

    def __init__(self, portal: Portal) -> None:
        self.portal_id = portal.pk
        self.bucket_key = portal.member_id
        self._load(portal)

    def _load(self, portal: Portal) -> None:
        self.endpoint = portal.client_endpoint
        self.version = portal.token_version
        self._token = portal.access_token

    def token(self) -> str | None:
        return self._token

    def refreshed(self, stale: str | None) -> str | None:
        portal = oauth.refresh_portal_tokens(self.portal_id, seen_version=self.version)
        self._load(portal)
        return self._token

    def newer(self) -> str | None:
        """The stored token, if another worker stored a newer one since we read."""
        portal = Portal.objects.get(pk=self.portal_id)
        if portal.token_version == self.version:
            return None
        self._load(portal)
        return self._token

    def moved(self, endpoint: str) -> None:
        self.endpoint = endpoint
        Portal.objects.filter(pk=self.portal_id).update(client_endpoint=endpoint)
        logger.warning("b24 portal %s moved; client_endpoint updated", self.bucket_key)


class TokenAuth:
    """A token someone else owns (a viewing user's AUTH_ID): never refreshed."""

    def __init__(self, endpoint: str, access_token: str, bucket_key: str) -> None:
        self.endpoint = endpoint
        self.bucket_key = bucket_key
        self._token = access_token

    def token(self) -> str | None:
        return self._token

    def refreshed(self, stale: str | None) -> str | None:
        return None

    def newer(self) -> str | None:
        return None

    def moved(self, endpoint: str) -> None:
        self.endpoint = endpoint


class WebhookAuth(TokenAuth):
    """The webhook URL carries the credential; requests have no ``auth``."""

    def token(self) -> str | None:
        return None


class Client:
    """Calls Bitrix24 REST methods for one portal and one identity."""

    def __init__(
        self,
        auth: Auth,
        *,
        pacing: PacingConfig | None = None,
        pacer: Pacer | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = TIMEOUT,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.auth = auth
        self.pacer = pacer or Pacer(auth.bucket_key, config=pacing, **_sleep(sleep))
        self.session = session or requests.Session()
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": USER_AGENT}
        )
        self.timeout = timeout
        self.sleep = self.pacer.sleep
        self.requests_sent = 0

    # -- single calls ---------------------------------------------------------

    def call(self, method: str, params: Params | None = None) -> Any:
        """Call a method and return its ``result``."""
        return self.call_raw(method, params).result

    def call_raw(self, method: str, params: Params | None = None) -> Envelope:
        """Call a method; the whole envelope (``total``, ``next``, ``time``)."""
        self.pacer.before(method)
        body = self._send(method, dict(params or {}))
        envelope = Envelope.from_body(body)
        self.pacer.record(method, dict(envelope.time))
        return envelope

    def _send(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST with pacing, one refresh on expiry, and retries where they are safe."""
        config = self.pacer.config
        refreshed = False
        limited = 0
        failures = 0
        token = self.auth.token()
        while True:
            self.pacer.acquire()
            try:
                status, body = self._post(method, payload, token)
            except errors.Transient as exc:
                failures += 1
                if not _is_read(method) or failures >= config.transient_attempts:
                    raise
                self._backoff(failures - 1, exc)
                continue

            if "error" not in body:
                return body
            error = errors.from_body(body, status=status, method=method)

            if isinstance(error, errors.TokenExpired) and not refreshed:
                refreshed = True
                fresh = self.auth.refreshed(token)
                if fresh is None:
                    raise error
                token = fresh
                continue
            if type(error) is errors.AuthError and not refreshed:
                # A token rotated away by another worker may read as unknown
                # rather than expired: retry once with the stored one.
                refreshed = True
                fresh = self.auth.newer()
                if fresh is None:
                    raise error
                token = fresh
                continue
            if isinstance(error, errors.TokenExpired):
                # Expired again right after a refresh: no loop, a typed error.
                raise errors.AuthError(
                    error.code, error.description, status=status, method=method
                )
            if isinstance(error, errors.RateLimited):
                self.pacer.saturate()
                limited += 1
                if limited >= config.limit_attempts:
                    raise error
                self._backoff(limited - 1, error)
                continue
            if isinstance(error, errors.MethodBlocked):
                raise self._blocked(method, body, error)
            if isinstance(error, errors.Transient) and _is_read(method):
                failures += 1
                if failures < config.transient_attempts:
                    self._backoff(failures - 1, error)
                    continue
            raise error

    def _blocked(
        self, method: str, body: Mapping[str, Any], error: errors.MethodBlocked
    ) -> errors.MethodBlocked:
        # The 429 body seldom says when; the last good answer's reset time does.
        reset_at = errors.reset_at_of(body) or self.pacer.last_reset_at(method)
        if reset_at is None or reset_at <= self.pacer.store.now():
            reset_at = error.reset_at
        self.pacer.block(method, until=reset_at)
        logger.warning("b24 method %s paused until %.0f", method, reset_at)
        return errors.MethodBlocked(
            error.code,
            error.description,
            status=error.status,
            method=method,
            reset_at=reset_at,
        )

    def _backoff(self, attempt: int, error: errors.B24Error) -> None:
        delay = self.pacer.config.backoff(attempt, random.random())
        logger.info("b24 %s: %s, retrying in %.1f s", error.method, error.code, delay)
        self.sleep(delay)

    def _post(
        self, method: str, payload: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any]]:
        """One HTTP exchange; follows a moved portal; never leaks the URL."""
        body = dict(payload)
        if token is not None:
            body["auth"] = token
        data = json.dumps(body, ensure_ascii=False).encode()
        url = urljoin(self.auth.endpoint, method)
        moved_to: str | None = None
        for _hop in range(REDIRECT_HOPS + 1):
            response = self._exchange(url, data, method)
            location = response.headers.get("Location")
            if response.is_redirect and location:
                # A renamed portal answers 302 from its old host: re-POST there,
                # but never hand the token to plain http after https.
                target = urljoin(url, location)
                secure = urlsplit(url).scheme == "https"
                if secure and urlsplit(target).scheme != "https":
                    raise errors.PermanentError(
                        "insecure_redirect",
                        "redirect from https to http",
                        method=method,
                    )
                url = moved_to = target
                continue
            break
        else:
            raise errors.Transient("too_many_redirects", method=method)

        parsed = _parse(response, method)
        if moved_to is not None and "error" not in parsed:
            endpoint = _endpoint_of(moved_to, method)
            if endpoint and endpoint != self.auth.endpoint:
                self.auth.moved(endpoint)
        return response.status_code, parsed

    def _exchange(self, url: str, data: bytes, method: str) -> requests.Response:
        self.requests_sent += 1
        response = None
        try:
            response = self.session.post(
                url,
                data=data,
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            failure = "timeout"
        except requests.RequestException as exc:
            failure = type(exc).__name__
        if response is None:
            # Raised outside the handler: requests' messages carry the URL, and
            # a webhook's URL is its secret.
            raise errors.Transient("network_error", failure, method=method)
        return response

    # -- batch ----------------------------------------------------------------

    def batch(
        self, commands: Mapping[str, tuple[str, Params]], *, halt: bool = False
    ) -> BatchResult:
        """Run commands in batches of at most 50; outcomes per command key.

        ``$result[key]…`` references must point into the same group of 50.
        With ``halt`` nothing after the first failing command runs; the keys
        that did not run are reported ``missing``.
        """
        keys = list(commands)
        chunks = [keys[i : i + BATCH_LIMIT] for i in range(0, len(keys), BATCH_LIMIT)]
        encoded: list[dict[str, tuple[str, str]]] = []
        for chunk in chunks:
            # Check every command before the first request goes out.
            queries = {}
            for key in chunk:
                method, params = commands[key]
                _check_key(key)
                query = phpquery.encode(params)
                _check_references(query, set(chunk), key)
                queries[key] = (method, query)
            encoded.append(queries)

        outcome = BatchResult()
        for queries in encoded:
            if halt and outcome.errors:
                outcome.missing.extend(queries)
                continue
            self._batch_chunk(queries, halt, outcome)
        return outcome

    def _batch_chunk(
        self,
        commands: Mapping[str, tuple[str, str]],
        halt: bool,
        outcome: BatchResult,
    ) -> None:
        cmd: dict[str, str] = {}
        methods: dict[str, str] = {}
        for key, (method, query) in commands.items():
            try:
                self.pacer.before(method)
            except errors.MethodBlocked as exc:
                outcome.errors[key] = exc
                continue
            cmd[key] = f"{method}?{query}" if query else method
            methods[key] = method
        if not cmd:
            return

        body = self._send("batch", {"cmd": cmd, "halt": 1 if halt else 0})
        result = body.get("result")
        if not isinstance(result, Mapping):
            raise errors.Transient("unexpected_answer", "batch without result map")
        results = _as_map(result.get("result"))
        failures = _as_map(result.get("result_error"))
        totals = _as_map(result.get("result_total"))
        nexts = _as_map(result.get("result_next"))
        timings = _as_map(result.get("result_time"))

        for key, method in methods.items():
            if key in timings:
                self.pacer.record(method, timings[key])
            if key in failures:
                outcome.errors[key] = self._command_error(method, failures[key])
            elif key in results:
                outcome.results[key] = results[key]
                if (total := _int_or_none(totals.get(key))) is not None:
                    outcome.totals[key] = total
                if (after := _int_or_none(nexts.get(key))) is not None:
                    outcome.nexts[key] = after
            else:
                outcome.missing.append(key)

    def _command_error(self, method: str, failure: Any) -> errors.B24Error:
        if not isinstance(failure, Mapping):
            failure = {"error": "", "error_description": str(failure)[:200]}
        error = errors.from_body(failure, method=method)
        if isinstance(error, errors.MethodBlocked):
            return self._blocked(method, failure, error)
        return error

    # -- iteration ------------------------------------------------------------

    def iterate(
        self,
        method: str,
        *,
        filter: Params | None = None,
        select: Sequence[str] | None = None,
        order_key: str | None = None,
        item_shape: ItemShape = "lead",
        params: Params | None = None,
        pages_per_request: int = BATCH_LIMIT,
    ) -> Iterator[dict[str, Any]]:
        """Every matching row in ID order, safe against deletes while reading.

        Pages by ``>ID`` of the last row with ``order ID ASC`` and
        ``start=-1``; stops on the first short page and never trusts
        ``total``. ``item_shape="item"`` reads ``crm.item.list``'s
        ``{"items": [...]}`` rows with a lowercase ``id``. Several pages go in
        one batch, each starting after the last row of the one before.
        """
        id_key = order_key or ("id" if item_shape == "item" else "ID")
        base: dict[str, Any] = dict(params or {})
        if select is not None:
            base["select"] = list(select)
        base["order"] = {id_key: "ASC"}
        base["start"] = -1
        conditions = dict(filter or {})
        last: Any = 0
        pages = max(1, min(pages_per_request, BATCH_LIMIT))

        while True:
            if pages == 1:
                query = {**base, "filter": {**conditions, f">{id_key}": last}}
                rows_by_page = [_rows(self.call(method, query), item_shape, method)]
            else:
                rows_by_page = self._pages(
                    method, base, conditions, id_key, last, pages, item_shape
                )
            for rows in rows_by_page:
                yield from rows
                if len(rows) < PAGE_SIZE:
                    return
                last = rows[-1][id_key]

    def _pages(
        self,
        method: str,
        base: dict[str, Any],
        conditions: dict[str, Any],
        id_key: str,
        last: Any,
        pages: int,
        item_shape: ItemShape,
    ) -> list[list[dict[str, Any]]]:
        commands: dict[str, tuple[str, Params]] = {}
        after: Any = last
        for index in range(pages):
            key = f"p{index}"
            commands[key] = (
                method,
                {**base, "filter": {**conditions, f">{id_key}": after}},
            )
            tail = f"[{PAGE_SIZE - 1}][{id_key}]"
            after = (
                f"$result[{key}]" + ("[items]" if item_shape == "item" else "") + tail
            )
        outcome = self.batch(commands)

        pages_read: list[list[dict[str, Any]]] = []
        for key in commands:
            if key in outcome.errors:
                # Only reached when every page before was full.
                raise outcome.errors[key]
            if key not in outcome.results:
                raise errors.Transient(
                    "NO_RESULT", "a page came back empty-handed", method=method
                )
            rows = _rows(outcome.results[key], item_shape, method)
            pages_read.append(rows)
            if len(rows) < PAGE_SIZE:
                break
        return pages_read

    # -- bulk writes by ID ----------------------------------------------------

    def delete_many(
        self,
        method: str,
        ids: Iterable[int],
        *,
        id_param: str = "id",
        extra: Params | None = None,
    ) -> BulkOutcome:
        """Delete objects by ID in batches; one already gone counts as deleted."""
        return self._bulk(
            method,
            {int(i): {**(extra or {}), id_param: int(i)} for i in ids},
            gone_is_done=True,
        )

    def update_many(
        self,
        method: str,
        fields_by_id: Mapping[int, Params],
        *,
        id_param: str = "id",
        extra: Params | None = None,
    ) -> BulkOutcome:
        """Update objects by ID in batches (``{"id": …, "fields": …}`` each)."""
        return self._bulk(
            method,
            {
                int(i): {**(extra or {}), id_param: int(i), "fields": dict(fields)}
                for i, fields in fields_by_id.items()
            },
            gone_is_done=False,
        )

    def _bulk(
        self, method: str, params_by_id: Mapping[int, Params], *, gone_is_done: bool
    ) -> BulkOutcome:
        keys = {f"c{object_id}": object_id for object_id in params_by_id}
        outcome = self.batch(
            {key: (method, params_by_id[object_id]) for key, object_id in keys.items()}
        )
        bulk = BulkOutcome()
        for key, object_id in keys.items():
            error = outcome.errors.get(key)
            if key in outcome.results or (
                gone_is_done and isinstance(error, errors.NotFound)
            ):
                bulk.done.append(object_id)
            elif error is not None:
                bulk.failed[object_id] = error
            else:
                bulk.failed[object_id] = errors.Transient(
                    "NO_RESULT", "no outcome came back for this command", method=method
                )
        return bulk


def multifield_removal(items: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Values for a multifield (PHONE, EMAIL…) that delete each listed item by ID.

    Items without an ``ID`` are skipped: writing them back would append.
    """
    return [{"ID": str(item["ID"]), "DELETE": "Y"} for item in items if item.get("ID")]


# -- constructors --------------------------------------------------------------


def portal_client(portal: Portal, *, pacing: PacingConfig | None = None) -> Client:
    """A client for background work with the portal's stored tokens."""
    stopped = oauth.STOPPED.get(Portal.Status(portal.status))
    if stopped is not None:
        raise stopped(portal.status, portal.status_reason)
    config = (pacing or PacingConfig()).for_plan(portal.plan)
    return Client(PortalAuth(portal), pacing=config)


def user_client(
    client_endpoint: str,
    access_token: str,
    *,
    member_id: str = "",
    pacing: PacingConfig | None = None,
) -> Client:
    """A client acting as the user whose ``AUTH_ID`` this is; never refreshes.

    Pass the portal's ``member_id`` so the user's calls share its bucket. The
    default pacing suits a page someone waits for (:data:`INTERACTIVE`).
    """
    _check_endpoint(client_endpoint)
    key = member_id or _endpoint_key(client_endpoint)
    auth = TokenAuth(client_endpoint, access_token, key)
    return Client(auth, pacing=pacing or INTERACTIVE)


def webhook_client(url: str, *, pacing: PacingConfig | None = None) -> Client:
    """A client for an inbound webhook ``https://portal/rest/<user>/<code>/``."""
    endpoint = url if url.endswith("/") else url + "/"
    _check_endpoint(endpoint)
    return Client(WebhookAuth(endpoint, "", _endpoint_key(endpoint)), pacing=pacing)


def refresh_plan(portal: Portal, client: Client | None = None) -> str:
    """Read the portal's licence from ``app.info`` and keep it as ``Portal.plan``."""
    info = (client or portal_client(portal)).call("app.info")
    plan = ""
    if isinstance(info, Mapping):
        plan = str(info.get("LICENSE_FAMILY") or info.get("LICENSE") or "")
    if plan != portal.plan:
        portal.plan = plan[:32]
        portal.save(update_fields=["plan"])
    return plan


# -- helpers -------------------------------------------------------------------


def _sleep(sleep: Callable[[float], None] | None) -> dict[str, Any]:
    return {"sleep": sleep} if sleep is not None else {}


def _is_read(method: str) -> bool:
    verb = method.rsplit(".", 1)[-1].lower()
    return verb in READ_VERBS


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_map(value: Any) -> Mapping[str, Any]:
    # PHP encodes an empty map as [] and a list-like map as a JSON list.
    if isinstance(value, Mapping):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _parse(response: requests.Response, method: str) -> dict[str, Any]:
    """The JSON body as a dict; gateways' HTML and garbage become Transient."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    status = response.status_code
    kind = errors.Transient if status >= 500 or status == 429 else errors.PermanentError
    content_type = response.headers.get("Content-Type", "?").split(";")[0]
    raise kind(
        "unexpected_answer", f"{content_type} body", status=status, method=method
    )


def _rows(result: Any, shape: ItemShape, method: str) -> list[dict[str, Any]]:
    if shape == "item":
        result = result.get("items") if isinstance(result, Mapping) else None
    if isinstance(result, Mapping):
        result = list(result.values())
    if not isinstance(result, list):
        raise errors.PermanentError(
            "unexpected_answer", "no list of rows", method=method
        )
    return [row for row in result if isinstance(row, dict)]


def _endpoint_of(url: str, method: str) -> str | None:
    """``https://new/rest/`` from ``https://new/rest/crm.lead.get``."""
    parts = urlsplit(url)
    path = parts.path
    if not path.endswith("/" + method):
        return None
    return f"{parts.scheme}://{parts.netloc}{path[: -len(method)]}"


def _endpoint_key(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.netloc}{parts.path.split('/rest/', 1)[0]}"


def _check_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise errors.PermanentError("bad_endpoint", "not an http(s) URL")


_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_REFERENCE = re.compile(r"\$result\[([^\[\]]+)\]")


def _check_key(key: str) -> None:
    if not _KEY.match(key):
        raise ValueError(f"batch command key {key!r} must be [A-Za-z0-9_.:-]")


def _check_references(query: str, keys: set[str], own: str) -> None:
    for match in _REFERENCE.finditer(query):
        target = match.group(1)
        if target not in keys or target == own:
            raise ValueError(
                f"command {own!r} refers to {target!r} outside its batch of 50"
            )

"""PHP-style query strings: what Bitrix24 parses with ``parse_str`` and sends us.

Bitrix24 reads every ``batch`` command as a query string, and posts events and
placement forms with bracketed keys (``auth[member_id]``,
``data[FIELDS][ID]``). :func:`encode` writes nested parameters the way PHP's
``http_build_query`` would, with one deliberate difference: every byte that is
not unreserved is percent-encoded, so a ``+`` travels as ``%2B`` and can never
turn into a space. :func:`decode` reads such strings back the way ``parse_str``
does, and :func:`nest` does the same for already-split pairs (a Django
``QueryDict``).
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote_plus

# Batch references are resolved by the portal before it runs a command; they
# must reach it exactly as written.
RESULT_REFERENCE = re.compile(r"^\$result\[[^\[\]]+\](\[[^\[\]]*\])*$")

_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


class QueryError(ValueError):
    """A value that a PHP query string cannot carry."""


def encode(params: Mapping[str, Any]) -> str:
    """``http_build_query`` for nested mappings and sequences, ``+`` as ``%2B``."""
    return "&".join(f"{key}={value}" for key, value in _flatten(params, prefix=None))


def _flatten(value: Any, *, prefix: str | None) -> Iterable[tuple[str, str]]:
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        if prefix is None:
            raise QueryError("the top level of a query must be a mapping")
        scalar = _scalar(value)
        if scalar is not None:
            yield prefix, scalar
        return

    for key, item in items:
        part = quote(str(key), safe="")
        name = part if prefix is None else f"{prefix}[{part}]"
        yield from _flatten(item, prefix=name)


def _scalar(value: Any) -> str | None:
    # PHP drops nulls and writes booleans as 1/0.
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | str):
        text = str(value)
        if RESULT_REFERENCE.match(text):
            return text
        return quote(text, safe="-_.~")
    raise QueryError(f"cannot put a {type(value).__name__} into a query string")


def decode(query: str | bytes) -> dict[str, Any]:
    """``parse_str``: bracketed keys become nested dicts, ``0..n-1`` keys lists."""
    if isinstance(query, bytes):
        query = query.decode("utf-8", errors="replace")
    pairs = []
    for chunk in query.split("&"):
        if not chunk:
            continue
        key, _, value = chunk.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return nest(pairs)


def nest(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Build the nested structure PHP would from flat ``(key, value)`` pairs."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        path = _path(key)
        if path is None:
            continue
        node = root
        for index, part in enumerate(path):
            last = index == len(path) - 1
            if part == "":
                # "a[]" appends: the next integer key, as PHP counts it.
                part = str(_next_index(node))
            if last:
                node[part] = value
                break
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
    result = _listify(root)
    assert isinstance(result, dict)
    return result


def _path(key: str) -> list[str] | None:
    head, bracket, rest = key.partition("[")
    if not head:
        return None
    if not bracket:
        return [head]
    parts = [head]
    position = 0
    rest = "[" + rest
    for match in _KEY_PART.finditer(rest):
        if match.start() != position:
            break
        parts.append(match.group(1))
        position = match.end()
    if position == 0:
        # "a[b" has no closing bracket: PHP keeps it as a flat name.
        return [key.replace("[", "_", 1)]
    return parts


def _next_index(node: dict[str, Any]) -> int:
    numbers = [int(k) for k in node if k.lstrip("-").isdigit()]
    return max(numbers) + 1 if numbers else 0


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and list(converted) == [str(i) for i in range(len(converted))]:
        return list(converted.values())
    return converted

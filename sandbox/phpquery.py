"""PHP-style query strings: ``fields[PHONE][0][VALUE]=%2B7900`` both ways.

Bitrix24 speaks PHP's ``http_build_query`` / ``parse_str``: nested keys in
brackets, ``[]`` appends, every scalar a string. Django's QueryDict keeps the
keys flat, so the sandbox parses and builds them itself.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote

_KEY = re.compile(r"^([^\[]*)((?:\[[^\]]*\])*)(.*)$")
_PART = re.compile(r"\[([^\]]*)\]")


def _split_key(key: str) -> list[str]:
    """``a[b][][c]`` -> ``["a", "b", "", "c"]`` the way PHP reads it."""
    match = _KEY.match(key)
    if match is None or not match.group(1):
        return [key]
    head, brackets, rest = match.groups()
    if rest:
        # PHP stops at the first unbalanced bracket and keeps the rest as text.
        return [key]
    return [head, *_PART.findall(brackets)]


def _assign(target: dict[str, Any], parts: list[str], value: str) -> None:
    node: dict[str, Any] = target
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "":
            part = str(_next_index(node))
        if last:
            node[part] = value
            return
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child


def _next_index(node: Mapping[str, Any]) -> int:
    numbers = [int(k) for k in node if k.isdigit()]
    return max(numbers) + 1 if numbers else 0


def listify(value: Any) -> Any:
    """Turn dicts keyed 0..n-1 into lists, recursively (PHP arrays -> JSON)."""
    if isinstance(value, dict):
        converted = {k: listify(v) for k, v in value.items()}
        keys = list(converted)
        if keys and keys == [str(i) for i in range(len(keys))]:
            return [converted[k] for k in keys]
        return converted
    if isinstance(value, list):
        return [listify(v) for v in value]
    return value


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest flat ``(key, value)`` pairs; maps keep string keys."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        _assign(result, _split_key(key), value)
    return result


def parse(query: str) -> dict[str, Any]:
    """Parse a PHP-style query string into nested dicts of strings."""
    return parse_pairs(parse_qsl(query, keep_blank_values=True))


def _scalar(value: Any) -> str:
    if value is True:
        return "1"
    if value is False or value is None:
        return ""
    return str(value)


def flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested mappings and lists -> ``[("a[b][0]", "x"), ...]``; scalars as strings."""
    pairs: list[tuple[str, str]] = []
    for raw_key, value in data.items():
        key = f"{prefix}[{raw_key}]" if prefix else str(raw_key)
        if isinstance(value, Mapping):
            pairs.extend(flatten(value, key))
        elif isinstance(value, list | tuple):
            pairs.extend(flatten({str(i): v for i, v in enumerate(value)}, key))
        else:
            pairs.append((key, _scalar(value)))
    return pairs


def encode(data: Mapping[str, Any]) -> str:
    """Build a query string as PHP's ``http_build_query`` does (``+`` -> ``%2B``)."""
    return "&".join(
        f"{quote(key, safe='[]')}={quote(value, safe='')}"
        for key, value in flatten(data)
    )

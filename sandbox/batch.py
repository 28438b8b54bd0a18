"""``batch``: up to 50 commands in one request, with ``$result[...]`` references."""

import re
from typing import Any
from urllib.parse import quote

from sandbox import phpquery
from sandbox.rest import Call, Page, RestError, execute, method

MAX_COMMANDS = 50
_REFERENCE = re.compile(r"\$result\[([^\]]*)\]((?:\[[^\]]*\])*)")
_PART = re.compile(r"\[([^\]]*)\]")


def php_map(values: dict[str, Any]) -> Any:
    """A PHP array as json_encode prints it: [] when empty, a list if 0..n-1."""
    if not values:
        return []
    keys = list(values)
    if keys == [str(i) for i in range(len(keys))]:
        return [values[k] for k in keys]
    return values


def _lookup(results: dict[str, Any], key: str, path: list[str]) -> Any:
    node: Any = results.get(key)
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _substitute(command: str, results: dict[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        value = _lookup(results, match.group(1), _PART.findall(match.group(2)))
        if value is None or isinstance(value, dict | list):
            return ""
        if value is True:
            value = "1"
        elif value is False:
            value = ""
        return quote(str(value), safe="")

    return _REFERENCE.sub(replace, command)


def _commands(raw: Any) -> list[tuple[str, str]]:
    if isinstance(raw, dict):
        return [(str(k), str(v)) for k, v in raw.items()]
    if isinstance(raw, list):
        return [(str(i), str(v)) for i, v in enumerate(raw)]
    raise RestError("ERROR_ARGUMENT", "Argument 'cmd' is null or empty", 400)


def _halt(raw: Any) -> bool:
    return str(raw).lower() in ("1", "true", "y")


@method("batch")
def batch(call: Call) -> dict[str, Any]:
    commands = _commands(call.param("cmd", "CMD"))
    halt = _halt(call.param("halt", "HALT") or 0)
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    nexts: dict[str, Any] = {}
    times: dict[str, Any] = {}

    for index, (key, command) in enumerate(commands):
        if index >= MAX_COMMANDS:
            errors[key] = {
                "error": "ERROR_BATCH_LENGTH_EXCEEDED",
                "error_description": f"Max batch length exceeded ({MAX_COMMANDS})",
            }
            continue
        name, _, query = _substitute(command, results).partition("?")
        name = name.strip().removesuffix(".json")
        if name.lower() == "batch":
            errors[key] = {
                "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
                "error_description": "Method is not allowed for batch usage",
            }
            if halt:
                break
            continue
        params = phpquery.parse(query)
        inner = Call(
            portal=call.portal,
            user=call.user,
            params=params,
            app=call.app,
            install=call.install,
            token=call.token,
            webhook=call.webhook,
            scopes=call.scopes,
            in_batch=True,
            ip=call.ip,
        )
        try:
            result, timing = execute(inner, name)
        except RestError as error:
            errors[key] = error.body()
            if halt:
                break
            continue
        if isinstance(result, Page):
            if result.total is not None:
                totals[key] = result.total
            if result.next is not None:
                nexts[key] = result.next
            result = result.result
        results[key] = result
        times[key] = timing

    return {
        "result": php_map(results),
        "result_error": php_map(errors),
        "result_total": php_map(totals),
        "result_next": php_map(nexts),
        "result_time": php_map(times),
    }

"""One JSON shape for every API error: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from compliance.journal import JournalError

logger = logging.getLogger(__name__)


def _body(code: str, message: str, fields: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handling, reshaped; domain refusals are 400; anything else a bare 500."""
    if isinstance(exc, JournalError):
        exc = ValidationError(str(exc))
    response = exception_handler(exc, context)
    if response is None:
        view = type(context.get("view")).__name__
        # The type only: messages of unexpected errors may carry input.
        logger.error("unhandled API error %s in %s", type(exc).__name__, view)
        return Response(
            _body("server_error", "internal error"),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    assert isinstance(exc, APIException)
    if isinstance(exc, ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            response.data = _body("invalid", "the request is not valid", detail)
        else:
            messages = detail if isinstance(detail, list) else [detail]
            response.data = _body("invalid", " ".join(str(m) for m in messages))
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        response.data = _body(str(code), str(exc.detail))
    return response

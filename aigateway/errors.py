"""Refusals of the gateway in OpenAI's error shape.

Messages are fixed sentences: they never repeat the request's text, which
may hold personal data.
"""

from django.http import JsonResponse


class GatewayError(Exception):
    """A refusal with its HTTP status, OpenAI error type and code."""

    def __init__(self, status: int, kind: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.code = code
        self.message = message

    def body(self) -> dict[str, dict[str, str | None]]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": None,
                "code": self.code,
            }
        }

    def response(self) -> JsonResponse:
        return JsonResponse(self.body(), status=self.status)


def invalid(code: str, message: str) -> GatewayError:
    return GatewayError(400, "invalid_request_error", code, message)


def unauthorised(message: str) -> GatewayError:
    return GatewayError(401, "authentication_error", "invalid_api_key", message)


def forbidden(code: str, message: str) -> GatewayError:
    return GatewayError(403, "permission_error", code, message)


def upstream_failed(code: str, message: str) -> GatewayError:
    return GatewayError(502, "upstream_error", code, message)

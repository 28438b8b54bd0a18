"""What can go wrong when talking to Bitrix24, as types a job can act on.

Bitrix24 reports an error as any JSON body with an ``error`` key, whatever the
HTTP status: ``401`` for an expired token, ``200`` for some ``placement.bind``
refusals, ``"error": ""`` with a text for legacy CRM methods. :func:`from_body`
turns such a body into one of the classes below; callers branch on the class,
never on the code string.

- :class:`Transient` (and its kinds :class:`RateLimited`, :class:`MethodBlocked`):
  try again later; ``countdown()`` says when.
- :class:`ReauthRequired`, :class:`PaymentRequired`: the portal needs a person;
  background work for it stops.
- :class:`AuthError`, :class:`PermissionDenied`, :class:`NotFound`,
  :class:`PermanentError`: this call will not succeed as it stands.
"""

import random
import time
from collections.abc import Mapping
from typing import Any


class B24Error(Exception):
    """A Bitrix24 call failed; ``code`` is the platform's error code."""

    def __init__(
        self,
        code: str,
        description: str = "",
        *,
        status: int | None = None,
        method: str = "",
    ) -> None:
        self.code = code
        self.description = description
        self.status = status
        self.method = method
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.method}: " if self.method else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        text = f" {self.description}" if self.description else ""
        return f"{where}{self.code or 'error'}{status}{text}"


class AuthError(B24Error):
    """The token was not accepted (wrong, revoked, or expired again after a refresh)."""


class TokenExpired(AuthError):
    """``expired_token``: the one error that calls for a refresh."""


class ReauthRequired(AuthError):
    """The refresh token is dead; someone has to authorise the app again."""


class PaymentRequired(B24Error):
    """The portal's subscription to the app has lapsed."""


class PermissionDenied(B24Error):
    """The token works but lacks a right or a scope for this call."""


class NotFound(B24Error):
    """The object (or method) does not exist; for a delete that means done."""


class PermanentError(B24Error):
    """Any other refusal; repeating the same call will not help."""


class Transient(B24Error):
    """A passing failure (gateway error, HTML body, timeout); try again later."""

    base_delay = 5.0
    max_delay = 600.0

    def countdown(self, attempt: int = 0, *, now: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: exponential, with jitter."""
        ceiling = min(self.max_delay, self.base_delay * 2.0**attempt)
        return random.uniform(ceiling / 2, ceiling)


class RateLimited(Transient):
    """``QUERY_LIMIT_EXCEEDED``: the portal's request bucket overflowed."""

    base_delay = 2.0


class MethodBlocked(Transient):
    """``OPERATION_TIME_LIMIT``: one method spent its time budget until ``reset_at``."""

    def __init__(
        self,
        code: str,
        description: str = "",
        *,
        status: int | None = None,
        method: str = "",
        reset_at: float,
    ) -> None:
        self.reset_at = reset_at
        super().__init__(code, description, status=status, method=method)

    def countdown(self, attempt: int = 0, *, now: float | None = None) -> float:
        """Never earlier than the method's budget resets; later attempts wait more."""
        now = time.time() if now is None else now
        wait = max(0.0, self.reset_at - now)
        return wait + min(60.0 * attempt, self.max_delay)


_AUTH = {
    "expired_token",
    "no_auth_found",
    "invalid_token",
    "invalid_credentials",
    "wrong_auth_type",
    "authorization_error",
    "error_oauth",
    "application_not_found",
    "not_installed",
    "method_confirm_waiting",
    "invalid_client",
    "wrong_client",
}
_PERMISSION = {
    "access_denied",
    "insufficient_scope",
    "invalid_scope",
    "user_access_error",
    "allowed_only_intranet_user",
}
_NOT_FOUND = {
    "not_found",
    "error_not_found",
    "error_method_not_found",
    "owner_not_found",
}
_TRANSIENT = {
    "internal_server_error",
    "error_unexpected_answer",
    "overload_limit",
    "portal_deleted_temporarily",
}
_LEGACY_NOT_FOUND = {"not found", "item not found"}
_LEGACY_DENIED = {"access denied", "access denied."}


def from_body(
    body: Mapping[str, Any], *, status: int | None = None, method: str = ""
) -> B24Error:
    """The typed error for an error body (one that has an ``error`` key)."""
    code = str(body.get("error") or "")
    description = str(body.get("error_description") or body.get("error_message") or "")
    kwargs: dict[str, Any] = {"status": status, "method": method}
    key = code.lower()
    legacy = description.strip().lower()

    if key == "expired_token":
        return TokenExpired(code, description, **kwargs)
    if key == "invalid_grant":
        return ReauthRequired(code, description, **kwargs)
    if key == "payment_required":
        return PaymentRequired(code, description, **kwargs)
    if key == "query_limit_exceeded":
        return RateLimited(code, description, **kwargs)
    if key == "operation_time_limit":
        reset_at = reset_at_of(body) or time.time() + 60.0
        return MethodBlocked(code, description, reset_at=reset_at, **kwargs)
    if key in _AUTH:
        return AuthError(code, description, **kwargs)
    if key in _PERMISSION or (not key and legacy in _LEGACY_DENIED):
        return PermissionDenied(code, description, **kwargs)
    if key in _NOT_FOUND or (not key and legacy in _LEGACY_NOT_FOUND):
        return NotFound(code, description, **kwargs)
    if key in _TRANSIENT or (status is not None and status >= 500 and status != 501):
        return Transient(code, description, **kwargs)
    return PermanentError(code, description, **kwargs)


def reset_at_of(body: Mapping[str, Any]) -> float | None:
    timing = body.get("time")
    if isinstance(timing, Mapping) and timing.get("operating_reset_at"):
        try:
            return float(timing["operating_reset_at"])
        except (TypeError, ValueError):
            return None
    return None

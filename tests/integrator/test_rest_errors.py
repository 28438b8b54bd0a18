"""Every error body Bitrix24 is known to send maps to one error type."""

import pytest

from integrator import errors


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"error": "expired_token"}, 401, errors.TokenExpired),
        (
            {"error": "NO_AUTH_FOUND", "error_description": "Wrong"},
            401,
            errors.AuthError,
        ),
        ({"error": "invalid_token"}, 401, errors.AuthError),
        ({"error": "invalid_grant"}, 400, errors.ReauthRequired),
        ({"error": "PAYMENT_REQUIRED"}, 402, errors.PaymentRequired),
        ({"error": "ACCESS_DENIED"}, 403, errors.PermissionDenied),
        ({"error": "insufficient_scope"}, 403, errors.PermissionDenied),
        ({"error": "user_access_error"}, 403, errors.PermissionDenied),
        (
            {"error": "", "error_description": "Access denied."},
            400,
            errors.PermissionDenied,
        ),
        ({"error": "", "error_description": "Not found"}, 400, errors.NotFound),
        (
            {"error": "NOT_FOUND", "error_description": "Item not found"},
            400,
            errors.NotFound,
        ),
        ({"error": "QUERY_LIMIT_EXCEEDED"}, 503, errors.RateLimited),
        ({"error": "OPERATION_TIME_LIMIT"}, 429, errors.MethodBlocked),
        ({"error": "INTERNAL_SERVER_ERROR"}, 500, errors.Transient),
        (
            {"error": "ERROR_ARGUMENT", "argument": "HANDLER"},
            200,
            errors.PermanentError,
        ),
        (
            {"error": "", "error_description": "ID is not defined"},
            400,
            errors.PermanentError,
        ),
        ({"error": 100, "error_description": "Invalid"}, 400, errors.PermanentError),
    ],
)
def test_it_types_each_known_error_body(body, status, kind):
    error = errors.from_body(body, status=status, method="crm.lead.get")

    assert type(error) is kind
    assert error.method == "crm.lead.get"
    assert error.status == status


def test_rate_and_budget_refusals_are_transient_so_jobs_retry_them():
    limited = errors.from_body({"error": "QUERY_LIMIT_EXCEEDED"}, status=503)
    blocked = errors.from_body({"error": "OPERATION_TIME_LIMIT"}, status=429)

    assert isinstance(limited, errors.Transient)
    assert isinstance(blocked, errors.Transient)


def test_a_blocked_method_counts_down_to_its_reset_time():
    blocked = errors.MethodBlocked(
        "OPERATION_TIME_LIMIT", method="crm.lead.delete", reset_at=1717000600
    )

    assert blocked.countdown(now=1717000000) == 600
    assert blocked.countdown(attempt=2, now=1717000000) >= 600
    assert blocked.countdown(now=1717000700) == 0


def test_transient_countdowns_grow_and_stay_bounded():
    error = errors.Transient("unexpected_answer", status=502)

    first = [error.countdown(0) for _ in range(20)]
    later = [error.countdown(3) for _ in range(20)]

    assert max(first) <= error.base_delay
    assert min(later) >= error.base_delay * 8 / 2
    assert error.countdown(30) <= error.max_delay

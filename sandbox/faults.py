"""Fault switches of a portal and its counters.

Switches live in ``Portal.faults`` (JSON). A switch is ``true`` (always on),
a positive integer (on for that many more uses) or absent/false (off):

- ``html_502``: REST answers 502 with an HTML body
- ``oauth_html_502``: the token endpoint answers 502 with an HTML body
- ``burst_503``: REST answers 503 QUERY_LIMIT_EXCEEDED
- ``overload_503``: REST answers 503 OVERLOAD_LIMIT
- ``payment_required``: the token endpoint answers PAYMENT_REQUIRED
- ``rest_access_denied``: REST answers 403 ACCESS_DENIED (plan without REST)
- ``slow_seconds``: REST sleeps this long before answering (a number)
- ``block_methods``: list of method names answering 429 OPERATION_TIME_LIMIT
- ``method_costs``: {method: seconds} added to the method's operating time
- ``event_drop``, ``event_duplicate``, ``event_corrupt``, ``event_wrong_token``,
  ``event_foreign_member``, ``event_robot``: event delivery faults
- ``event_delay``: seconds to hold each event before sending (a number)
"""

from typing import Any

from django.db import transaction

from sandbox import limits
from sandbox.models import Portal
from sandbox.router import SANDBOX_DB

COUNTED = {
    "html_502",
    "oauth_html_502",
    "burst_503",
    "overload_503",
    "payment_required",
    "rest_access_denied",
    "event_drop",
    "event_duplicate",
    "event_corrupt",
    "event_wrong_token",
    "event_foreign_member",
    "event_robot",
}


def take(portal: Portal, key: str) -> bool:
    """Whether the switch is on for this use; counts down numeric switches."""
    value = portal.faults.get(key)
    if not value:
        return False
    if value is True:
        return True
    with transaction.atomic(using=SANDBOX_DB):
        fresh = Portal.objects.select_for_update().get(pk=portal.pk)
        left = fresh.faults.get(key)
        if left is True:
            return True
        if not isinstance(left, int) or left <= 0:
            return False
        if left == 1:
            fresh.faults.pop(key)
        else:
            fresh.faults[key] = left - 1
        fresh.save(update_fields=["faults"])
        portal.faults = fresh.faults
        return True


def update(portal: Portal, changes: dict[str, Any]) -> dict[str, Any]:
    """Set (or clear with null/false) switches; returns the switches now on."""
    with transaction.atomic(using=SANDBOX_DB):
        fresh = Portal.objects.select_for_update().get(pk=portal.pk)
        for key, value in changes.items():
            if value is None or value is False:
                fresh.faults.pop(key, None)
            else:
                fresh.faults[key] = value
        fresh.save(update_fields=["faults"])
    portal.faults = fresh.faults
    return dict(fresh.faults)


def bump(portal: Portal, name: str, by: int = 1) -> None:
    """Add to a counter; counters live in memory, like the limits they count."""
    limits.count(portal.member_id, name, by)


def counters(portal: Portal) -> dict[str, int]:
    return limits.counts(portal.member_id)


def reset_counters(portal: Portal) -> None:
    limits.count_reset(portal.member_id)

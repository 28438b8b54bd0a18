"""Timeline comments of CRM items: ``crm.timeline.comment.list``.

Paged by ``start`` in steps of 50 like other list methods; the filter needs
ENTITY_ID and ENTITY_TYPE; ``order`` takes ID, CREATED or AUTHOR_ID.
"""

from typing import Any

from sandbox.crm import visible_leads
from sandbox.models import TimelineComment
from sandbox.rest import Call, Page, RestError, iso, method

PAGE = 50
ORDER_FIELDS = {"ID": "pk", "CREATED": "created", "AUTHOR_ID": "author_uid"}


def comment_payload(comment: TimelineComment, tz: str) -> dict[str, Any]:
    return {
        "ID": str(comment.pk),
        "CREATED": iso(comment.created, tz),
        "ENTITY_ID": str(comment.entity_id),
        "ENTITY_TYPE": comment.entity_type,
        "AUTHOR_ID": str(comment.author_uid),
        "COMMENT": comment.comment,
        "FILES": [],
    }


@method("crm.timeline.comment.list", "crm")
def crm_timeline_comment_list(call: Call) -> Page:
    filters = call.param("filter", "FILTER")
    if not isinstance(filters, dict):
        raise RestError("100", "Required fields are not provided: filter", 400)
    entity_type = str(filters.get("ENTITY_TYPE") or "").lower()
    try:
        entity_id = int(str(filters.get("ENTITY_ID")))
    except (TypeError, ValueError):
        entity_id = 0
    if not entity_type or entity_id <= 0:
        raise RestError("100", "Required fields are not provided", 400)
    if entity_type == "lead" and not visible_leads(call).filter(pk=entity_id).exists():
        raise RestError("ACCESS_DENIED", "Access denied", 403)

    order = ["pk"]
    raw_order = call.param("order", "ORDER")
    if isinstance(raw_order, dict):
        order = [
            ("-" if str(d).upper() == "DESC" else "") + ORDER_FIELDS[str(k).upper()]
            for k, d in raw_order.items()
            if str(k).upper() in ORDER_FIELDS
        ] + ["pk"]
    comments = TimelineComment.objects.filter(
        portal=call.portal, entity_type=entity_type, entity_id=entity_id
    ).order_by(*order)
    try:
        start = max(int(call.param("start", "START") or 0), 0)
    except (TypeError, ValueError):
        start = 0
    rows = list(comments[start : start + PAGE])
    total = comments.count()
    following = start + PAGE if start + PAGE < total else None
    tz = call.portal.time_zone
    return Page([comment_payload(c, tz) for c in rows], total, following)

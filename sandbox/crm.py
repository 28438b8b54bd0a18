"""CRM leads: legacy crm.lead.* (UPPER_CASE strings) and crm.item.* (camelCase)."""

import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from sandbox import clock, events
from sandbox.models import Lead, LeadUserField, Multifield, Portal, TimelineComment
from sandbox.rest import Call, Page, RestError, iso, legacy_error, method
from sandbox.router import SANDBOX_DB

PAGE = 50
MULTIFIELDS = ("PHONE", "EMAIL", "WEB", "IM", "LINK")
STATUS_SEMANTIC = {"CONVERTED": "S", "JUNK": "F"}

# Column-backed fields: legacy name -> (model attribute, kind).
COLUMNS: dict[str, tuple[str, str]] = {
    "ID": ("pk", "int"),
    "TITLE": ("title", "str"),
    "NAME": ("name", "str"),
    "SECOND_NAME": ("second_name", "str"),
    "LAST_NAME": ("last_name", "str"),
    "STATUS_ID": ("status_id", "str"),
    "SOURCE_ID": ("source_id", "str"),
    "SOURCE_DESCRIPTION": ("source_description", "str"),
    "COMMENTS": ("comments", "str"),
    "OPPORTUNITY": ("opportunity", "money"),
    "CURRENCY_ID": ("currency_id", "str"),
    "ASSIGNED_BY_ID": ("assigned_by_id", "int"),
    "CREATED_BY_ID": ("created_by_id", "int"),
    "MODIFY_BY_ID": ("modify_by_id", "int"),
    "OPENED": ("opened", "str"),
    "DATE_CREATE": ("date_create", "date"),
    "DATE_MODIFY": ("date_modify", "date"),
    "DATE_CLOSED": ("date_closed", "date"),
}
WRITABLE = {
    "TITLE", "NAME", "SECOND_NAME", "LAST_NAME", "STATUS_ID", "SOURCE_ID",
    "SOURCE_DESCRIPTION", "COMMENTS", "OPPORTUNITY", "CURRENCY_ID",
    "ASSIGNED_BY_ID", "OPENED",
}  # fmt: skip
EXTRA = (
    "HONORIFIC", "COMPANY_TITLE", "BIRTHDATE", "POST", "STATUS_DESCRIPTION",
    "ORIGINATOR_ID", "ORIGIN_ID", "ADDRESS", "ADDRESS_2", "ADDRESS_CITY",
    "ADDRESS_POSTAL_CODE", "ADDRESS_REGION", "ADDRESS_PROVINCE", "ADDRESS_COUNTRY",
    "ADDRESS_COUNTRY_CODE", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN",
    "UTM_CONTENT", "UTM_TERM",
)  # fmt: skip
STANDARD = (
    "ID", "TITLE", "HONORIFIC", "NAME", "SECOND_NAME", "LAST_NAME", "COMPANY_TITLE",
    "COMPANY_ID", "CONTACT_ID", "IS_RETURN_CUSTOMER", "BIRTHDATE", "SOURCE_ID",
    "SOURCE_DESCRIPTION", "STATUS_ID", "STATUS_DESCRIPTION", "POST", "COMMENTS",
    "CURRENCY_ID", "OPPORTUNITY", "IS_MANUAL_OPPORTUNITY", "HAS_PHONE", "HAS_EMAIL",
    "HAS_IMOL", "ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID", "DATE_CREATE",
    "DATE_MODIFY", "DATE_CLOSED", "STATUS_SEMANTIC_ID", "OPENED", "ORIGINATOR_ID",
    "ORIGIN_ID", "MOVED_BY_ID", "MOVED_TIME", "ADDRESS", "ADDRESS_2", "ADDRESS_CITY",
    "ADDRESS_POSTAL_CODE", "ADDRESS_REGION", "ADDRESS_PROVINCE", "ADDRESS_COUNTRY",
    "ADDRESS_COUNTRY_CODE", "ADDRESS_LOC_ADDR_ID", "UTM_SOURCE", "UTM_MEDIUM",
    "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM", "LAST_ACTIVITY_BY",
    "LAST_ACTIVITY_TIME",
)  # fmt: skip
UF_TYPES = {
    "string", "integer", "double", "boolean", "datetime", "date", "money", "url",
    "address", "enumeration", "file", "employee", "crm_status", "iblock_section",
    "iblock_element", "crm",
}  # fmt: skip
_FILTER_KEY = re.compile(r"^(>=|<=|!=|!@|!%|=%|%=|>|<|=|!|@|%)?([A-Za-z0-9_]+)$")
_UF_NAME = re.compile(r"^UF_CRM_[A-Z0-9_]+$")


# --- reading ----------------------------------------------------------------


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def multifield_rows(lead: Lead, type_id: str) -> list[dict[str, str]]:
    return [
        {
            "ID": str(fm.pk),
            "VALUE_TYPE": fm.value_type,
            "VALUE": fm.value,
            "TYPE_ID": fm.type_id,
        }
        for fm in lead.fm.all()
        if fm.type_id == type_id
    ]


def lead_standard(lead: Lead) -> dict[str, Any]:
    """All standard fields of a lead as legacy methods return them."""
    tz = lead.portal.time_zone
    types = {fm.type_id for fm in lead.fm.all()}
    values: dict[str, Any] = {
        "ID": str(lead.pk),
        "TITLE": lead.title,
        "NAME": lead.name,
        "SECOND_NAME": lead.second_name,
        "LAST_NAME": lead.last_name,
        "COMPANY_ID": None,
        "CONTACT_ID": None,
        "IS_RETURN_CUSTOMER": "N",
        "SOURCE_ID": lead.source_id or None,
        "SOURCE_DESCRIPTION": lead.source_description or None,
        "STATUS_ID": lead.status_id,
        "COMMENTS": lead.comments or None,
        "CURRENCY_ID": lead.currency_id,
        "OPPORTUNITY": f"{lead.opportunity:.2f}",
        "IS_MANUAL_OPPORTUNITY": "N",
        "HAS_PHONE": "Y" if "PHONE" in types else "N",
        "HAS_EMAIL": "Y" if "EMAIL" in types else "N",
        "HAS_IMOL": "Y" if "IM" in types else "N",
        "ASSIGNED_BY_ID": str(lead.assigned_by_id),
        "CREATED_BY_ID": str(lead.created_by_id),
        "MODIFY_BY_ID": str(lead.modify_by_id),
        "DATE_CREATE": iso(lead.date_create, tz),
        "DATE_MODIFY": iso(lead.date_modify, tz),
        "DATE_CLOSED": iso(lead.date_closed, tz) if lead.date_closed else "",
        "STATUS_SEMANTIC_ID": STATUS_SEMANTIC.get(lead.status_id, "P"),
        "OPENED": lead.opened,
        "MOVED_BY_ID": str(lead.modify_by_id),
        "MOVED_TIME": iso(lead.date_modify, tz),
        "ADDRESS_LOC_ADDR_ID": None,
        "LAST_ACTIVITY_BY": str(lead.modify_by_id),
        "LAST_ACTIVITY_TIME": iso(lead.date_modify, tz),
    }
    for key in EXTRA:
        values[key] = lead.extra.get(key)
    values["BIRTHDATE"] = lead.extra.get("BIRTHDATE", "")
    return {key: values.get(key) for key in STANDARD}


def uf_fields(portal: Portal) -> dict[str, LeadUserField]:
    return {f.field_name: f for f in LeadUserField.objects.filter(portal=portal)}


def uf_output(field: LeadUserField, value: Any) -> Any:
    if value is None:
        return [] if field.multiple == "Y" else None
    return value


def lead_full(lead: Lead, ufs: dict[str, LeadUserField]) -> dict[str, Any]:
    """crm.lead.get: standard fields, every UF, and the multifields present."""
    data = lead_standard(lead)
    for name, field in ufs.items():
        data[name] = uf_output(field, lead.uf.get(name))
    for type_id in MULTIFIELDS:
        rows = multifield_rows(lead, type_id)
        if rows:
            data[type_id] = rows
    return data


def lead_selected(
    lead: Lead, select: list[str], ufs: dict[str, LeadUserField]
) -> dict[str, Any]:
    standard = lead_standard(lead)
    wanted: list[str] = []
    for key in select or ["*"]:
        if key == "*":
            wanted.extend(STANDARD)
        elif key == "UF_*":
            wanted.extend(ufs)
        else:
            wanted.append(key)
    data: dict[str, Any] = {"ID": standard["ID"]}
    for key in wanted:
        if key in standard:
            data[key] = standard[key]
        elif key in ufs:
            data[key] = uf_output(ufs[key], lead.uf.get(key))
        elif key in MULTIFIELDS:
            data[key] = multifield_rows(lead, key)
    return data


# --- filters ----------------------------------------------------------------


def parse_date(value: Any, tz: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).strip().replace(" ", "T", 1))
    except ValueError as exc:
        raise RestError("INVALID_ARG_VALUE", f"Invalid date: {value}", 400) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment


def _coerce(kind: str, value: Any, tz: str) -> Any:
    if isinstance(value, list | tuple):
        return [_coerce(kind, v, tz) for v in value]
    if isinstance(value, dict):
        return [_coerce(kind, v, tz) for v in value.values()]
    if kind == "int":
        try:
            return int(str(value).strip())
        except ValueError:
            return -1  # matches nothing, as Bitrix24 does with a non-number
    if kind == "money":
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return Decimal(-1)
    if kind == "date":
        return parse_date(value, tz)
    return "" if value is None else str(value)


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return list(value.values())
    return list(str(value).split(",")) if isinstance(value, str) else [value]


def _condition(attr: str, op: str, value: Any) -> Q:
    if op in ("", "="):
        if isinstance(value, list):
            return Q(**{f"{attr}__in": value})
        return Q(**{attr: value})
    if op in ("!", "!="):
        if isinstance(value, list):
            return ~Q(**{f"{attr}__in": value})
        return ~Q(**{attr: value})
    if op == "@":
        return Q(**{f"{attr}__in": value})
    if op == "!@":
        return ~Q(**{f"{attr}__in": value})
    lookups = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
    if op in lookups:
        return Q(**{f"{attr}__{lookups[op]}": value})
    if op in ("%", "=%", "%="):
        return Q(**{f"{attr}__icontains": str(value).strip("%")})
    if op == "!%":
        return ~Q(**{f"{attr}__icontains": str(value).strip("%")})
    raise RestError("INVALID_ARG_VALUE", f"Unsupported filter operation {op}", 400)


def _uf_value(field: LeadUserField, value: Any) -> Any:
    kind = field.user_type_id
    if isinstance(value, list | tuple):
        return [_uf_value(field, v) for v in value]
    if kind == "boolean":
        return str(value).upper() in ("1", "Y", "TRUE")
    if kind in ("integer", "employee"):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    if kind == "double":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return "" if value is None else str(value)


def lead_filter(portal: Portal, filters: Any, ufs: dict[str, LeadUserField]) -> Q:
    """Translate a legacy filter map (with prefixes) into a query."""
    query = Q()
    if not filters:
        return query
    if not isinstance(filters, dict):
        raise RestError("INVALID_ARG_VALUE", "filter must be an object", 400)
    for raw_key, raw_value in filters.items():
        match = _FILTER_KEY.match(str(raw_key))
        if match is None:
            continue
        op, key = match.group(1) or "", match.group(2).upper()
        value = _as_list(raw_value) if op in ("@", "!@") else raw_value
        if key in COLUMNS:
            attr, kind = COLUMNS[key]
            query &= _condition(attr, op, _coerce(kind, value, portal.time_zone))
        elif key in MULTIFIELDS:
            rows = Multifield.objects.filter(type_id=key)
            values = value if isinstance(value, list) else [str(value)]
            if op in ("%", "=%", "%="):
                inner = rows.filter(value__icontains=str(value).strip("%"))
            else:
                inner = rows.filter(value__in=[str(v) for v in values])
            ids = inner.values("lead_id")
            query &= ~Q(pk__in=ids) if op.startswith("!") else Q(pk__in=ids)
        elif key in ufs:
            query &= _condition(f"uf__{key}", op, _uf_value(ufs[key], value))
        # Unknown fields are ignored, as legacy list methods do.
    return query


def lead_order(order: Any, mapping: dict[str, str] | None = None) -> list[str]:
    if not order or not isinstance(order, dict):
        return ["pk"]
    result = []
    for key, direction in order.items():
        name = (mapping or {}).get(str(key), str(key).upper())
        attr = COLUMNS.get(name, ("", ""))[0]
        if not attr:
            continue
        desc = str(direction).upper() == "DESC"
        result.append(f"-{attr}" if desc else attr)
    return [*result, "pk"]


def visible_leads(call: Call) -> QuerySet[Lead]:
    leads = Lead.objects.filter(portal=call.portal)
    access = call.user.crm_access if not call.user.is_admin else "all"
    if access == "none":
        return leads.none()
    if access == "own":
        return leads.filter(assigned_by_id=call.user.uid)
    return leads


def paged(
    queryset: QuerySet[Lead], start_param: Any
) -> tuple[list[Lead], int | None, int | None]:
    try:
        start = int(start_param) if start_param not in (None, "") else 0
    except (TypeError, ValueError):
        start = 0
    if start == -1:
        return list(queryset[:PAGE]), 0, None
    start = max(start, 0)
    rows = list(queryset[start : start + PAGE])
    total = queryset.count()
    following = start + PAGE if start + PAGE < total else None
    return rows, total, following


# --- writing ----------------------------------------------------------------


def _items(value: Any) -> Iterable[dict[str, Any]]:
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def apply_multifields(lead: Lead, fields: dict[str, Any]) -> None:
    """Items with ID change or delete that row; items without ID are appended."""
    for type_id in MULTIFIELDS:
        if type_id not in fields:
            continue
        for item in _items(fields[type_id]):
            value = item.get("VALUE")
            row_id = item.get("ID")
            if row_id not in (None, ""):
                row = Multifield.objects.filter(
                    lead=lead, type_id=type_id, pk=_coerce("int", row_id, "UTC")
                ).first()
                if row is None:
                    continue
                if str(item.get("DELETE", "")).upper() == "Y" or value == "":
                    row.delete()
                    continue
                if value is not None:
                    row.value = str(value)
                if item.get("VALUE_TYPE"):
                    row.value_type = str(item["VALUE_TYPE"])
                row.save()
            elif value not in (None, ""):
                Multifield.objects.create(
                    lead=lead,
                    type_id=type_id,
                    value=str(value),
                    value_type=str(item.get("VALUE_TYPE") or "WORK"),
                )


def apply_fields(
    lead: Lead, fields: dict[str, Any], ufs: dict[str, LeadUserField]
) -> None:
    for key, value in fields.items():
        key = str(key).upper()
        if key in WRITABLE:
            attr, kind = COLUMNS[key]
            coerced = _coerce(kind, value, lead.portal.time_zone)
            if kind == "money" and isinstance(coerced, Decimal) and coerced < 0:
                continue
            setattr(lead, attr, coerced)
        elif key in EXTRA:
            lead.extra[key] = "" if value is None else str(value)
        elif key in ufs:
            field = ufs[key]
            if field.multiple == "Y":
                lead.uf[key] = _uf_value(field, _as_list(value))
            else:
                lead.uf[key] = _uf_value(field, value)


def lead_create(
    *, portal: Portal, fields: dict[str, Any], user_uid: int, robot: bool = False
) -> Lead:
    """Create a lead as a user would (fires ONCRMLEADADD)."""
    now = clock.now_dt()
    lead = Lead(
        portal=portal,
        date_create=now,
        date_modify=now,
        created_by_id=user_uid,
        modify_by_id=user_uid,
        assigned_by_id=user_uid,
    )
    ufs = uf_fields(portal)
    apply_fields(lead, fields, ufs)
    lead.save()
    if not lead.title:
        lead.title = f"Лид #{lead.pk}"
        lead.save(update_fields=["title"])
    apply_multifields(lead, fields)
    events.emit(
        portal=portal, event="ONCRMLEADADD", entity_id=lead.pk, user_uid=user_uid,
        robot=robot,
    )  # fmt: skip
    return lead


def lead_change(
    *, lead: Lead, fields: dict[str, Any], user_uid: int, robot: bool = False
) -> Lead:
    """Update a lead as a user would (fires ONCRMLEADUPDATE)."""
    apply_fields(lead, fields, uf_fields(lead.portal))
    lead.date_modify = clock.now_dt()
    lead.modify_by_id = user_uid
    lead.save()
    apply_multifields(lead, fields)
    events.emit(
        portal=lead.portal, event="ONCRMLEADUPDATE", entity_id=lead.pk,
        user_uid=user_uid, robot=robot,
    )  # fmt: skip
    return lead


def lead_remove(*, lead: Lead, user_uid: int, robot: bool = False) -> None:
    """Delete a lead as a user would (fires ONCRMLEADDELETE)."""
    portal, lead_id = lead.portal, lead.pk
    lead.delete()
    TimelineComment.objects.filter(
        portal=portal, entity_type="lead", entity_id=lead_id
    ).delete()
    events.emit(
        portal=portal, event="ONCRMLEADDELETE", entity_id=lead_id, user_uid=user_uid,
        robot=robot,
    )  # fmt: skip


# --- crm.lead.* ------------------------------------------------------------


def _lead_id(call: Call) -> int:
    raw = call.param("id", "ID")
    try:
        lead_id = int(str(raw))
    except (TypeError, ValueError):
        lead_id = 0
    if lead_id <= 0:
        raise legacy_error("ID is not defined or invalid.")
    return lead_id


def _lead_for(call: Call, lead_id: int, *, write: bool = False) -> Lead:
    leads = Lead.objects.filter(portal=call.portal, pk=lead_id)
    if write:
        # A second writer waits here and then sees the lead as the first left
        # it: of two deletes at once, one finds nothing.
        leads = leads.select_for_update(of=("self",))
    lead = leads.select_related("portal").prefetch_related("fm").first()
    if lead is None:
        raise legacy_error("Not found")
    if not visible_leads(call).filter(pk=lead_id).exists():
        raise legacy_error("Access denied.", 403)
    return lead


def _fields(call: Call, *names: str) -> dict[str, Any]:
    fields = call.param(*names)
    if fields is None:
        return {}
    if not isinstance(fields, dict):
        raise legacy_error("Parameter 'fields' must be array.")
    return fields


FIELD_TYPES = {
    "ID": "integer", "HONORIFIC": "crm_status", "BIRTHDATE": "date",
    "COMPANY_ID": "crm_company", "CONTACT_ID": "crm_contact", "SOURCE_ID": "crm_status",
    "STATUS_ID": "crm_status", "CURRENCY_ID": "crm_currency", "OPPORTUNITY": "double",
    "IS_MANUAL_OPPORTUNITY": "char", "IS_RETURN_CUSTOMER": "char", "OPENED": "char",
    "HAS_PHONE": "char", "HAS_EMAIL": "char", "HAS_IMOL": "char",
    "ASSIGNED_BY_ID": "user", "CREATED_BY_ID": "user", "MODIFY_BY_ID": "user",
    "MOVED_BY_ID": "user", "LAST_ACTIVITY_BY": "user", "DATE_CREATE": "datetime",
    "DATE_MODIFY": "datetime", "DATE_CLOSED": "datetime", "MOVED_TIME": "datetime",
    "LAST_ACTIVITY_TIME": "datetime", "COMMENTS": "string",
}  # fmt: skip
STATUS_TYPES = {"HONORIFIC": "HONORIFIC", "SOURCE_ID": "SOURCE", "STATUS_ID": "STATUS"}


def _describe(
    kind: str, title: str, *, readonly: bool, multiple: bool
) -> dict[str, Any]:
    return {
        "type": kind,
        "isRequired": False,
        "isReadOnly": readonly,
        "isImmutable": False,
        "isMultiple": multiple,
        "isDynamic": False,
        "title": title,
    }


@method("crm.lead.fields", "crm")
def crm_lead_fields(call: Call) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name in STANDARD:
        readonly = name not in WRITABLE and name not in EXTRA
        title = name.replace("_", " ").capitalize()
        entry = _describe(
            FIELD_TYPES.get(name, "string"), title, readonly=readonly, multiple=False
        )
        if name in STATUS_TYPES:
            entry["statusType"] = STATUS_TYPES[name]
        if name == "COMPANY_ID":
            entry["settings"] = {"parentEntityTypeId": 4}
        if name == "CONTACT_ID":
            entry["isDeprecated"] = True
        result[name] = entry
    result["CONTACT_IDS"] = _describe(
        "crm_contact", "Contacts", readonly=False, multiple=True
    )
    for name in MULTIFIELDS:
        result[name] = _describe(
            "crm_multifield", name.capitalize(), readonly=False, multiple=True
        )
    for name, uf in uf_fields(call.portal).items():
        label = uf.labels.get("EDIT_FORM_LABEL") or name
        entry = _describe(
            uf.user_type_id, name, readonly=False, multiple=uf.multiple == "Y"
        )
        entry.update(
            {
                "isDynamic": True,
                "listLabel": label,
                "formLabel": label,
                "filterLabel": label,
                "settings": uf.settings or uf_default_settings(uf.user_type_id),
            }
        )
        result[name] = entry
    return result


@method("crm.lead.add", "crm")
def crm_lead_add(call: Call) -> int:
    fields = _fields(call, "fields", "FIELDS")
    if call.user.crm_access == "none" and not call.user.is_admin:
        raise legacy_error("Access denied.", 403)
    return lead_create(portal=call.portal, fields=fields, user_uid=call.user.uid).pk


@method("crm.lead.get", "crm")
def crm_lead_get(call: Call) -> dict[str, Any]:
    lead = _lead_for(call, _lead_id(call))
    return lead_full(lead, uf_fields(call.portal))


@method("crm.lead.update", "crm")
def crm_lead_update(call: Call) -> bool:
    lead = _lead_for(call, _lead_id(call), write=True)
    lead_change(
        lead=lead, fields=_fields(call, "fields", "FIELDS"), user_uid=call.user.uid
    )
    return True


@method("crm.lead.delete", "crm")
def crm_lead_delete(call: Call) -> bool:
    lead = _lead_for(call, _lead_id(call), write=True)
    lead_remove(lead=lead, user_uid=call.user.uid)
    return True


@method("crm.lead.list", "crm")
def crm_lead_list(call: Call) -> Page:
    ufs = uf_fields(call.portal)
    query = lead_filter(call.portal, call.param("filter", "FILTER"), ufs)
    order = lead_order(call.param("order", "ORDER"))
    queryset = (
        visible_leads(call)
        .filter(query)
        .order_by(*order)
        .select_related("portal")
        .prefetch_related("fm")
    )
    rows, total, following = paged(queryset, call.param("start", "START"))
    select = call.param("select", "SELECT")
    select_list = [str(s) for s in _as_list(select)] if select else ["*"]
    return Page([lead_selected(r, select_list, ufs) for r in rows], total, following)


# --- crm.lead.userfield.* --------------------------------------------------


def uf_full_name(raw: str) -> str:
    """``CONSENT`` -> ``UF_CRM_CONSENT``; ``UF_X`` -> ``UF_CRM_X``; kept if full."""
    name = raw.strip().upper()
    if name.startswith("UF_CRM_"):
        return name
    if name.startswith("UF_"):
        return "UF_CRM_" + name[3:]
    return "UF_CRM_" + name


def uf_default_settings(user_type: str) -> dict[str, Any]:
    """What Bitrix24 fills in when a field is created without SETTINGS."""
    if user_type == "string":
        return {
            "SIZE": 20, "ROWS": 1, "REGEXP": "", "MIN_LENGTH": 0,
            "MAX_LENGTH": 0, "DEFAULT_VALUE": "",
        }  # fmt: skip
    if user_type == "boolean":
        return {"DEFAULT_VALUE": 0, "DISPLAY": "CHECKBOX", "LABEL_CHECKBOX": ""}
    if user_type in ("integer", "double"):
        return {"SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0, "DEFAULT_VALUE": None}
    if user_type in ("date", "datetime"):
        return {"DEFAULT_VALUE": {"VALUE": "", "TYPE": "NONE"}}
    return {}


def uf_payload(uf: LeadUserField) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ID": str(uf.pk),
        "ENTITY_ID": "CRM_LEAD",
        "FIELD_NAME": uf.field_name,
        "USER_TYPE_ID": uf.user_type_id,
        "XML_ID": uf.xml_id or None,
        "SORT": str(uf.sort),
        "MULTIPLE": uf.multiple,
        "MANDATORY": uf.mandatory,
        "SHOW_FILTER": uf.show_filter,
        "SHOW_IN_LIST": uf.show_in_list,
        "EDIT_IN_LIST": uf.edit_in_list,
        "IS_SEARCHABLE": uf.is_searchable,
        "SETTINGS": uf.settings or uf_default_settings(uf.user_type_id),
    }
    for key in (
        "EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL",
        "ERROR_MESSAGE", "HELP_MESSAGE",
    ):  # fmt: skip
        data[key] = uf.labels.get(key)
    if uf.user_type_id == "enumeration":
        data["LIST"] = uf.enum_list
    return data


def _yn(value: Any, default: str) -> str:
    if value is None:
        return default
    return "Y" if str(value).upper() in ("Y", "1", "TRUE") else "N"


@method("crm.lead.userfield.add", "crm")
def crm_lead_userfield_add(call: Call) -> int:
    fields = _fields(call, "fields", "FIELDS")
    if not call.user.is_admin:
        raise legacy_error("Access denied.", 403)
    raw_name = str(fields.get("FIELD_NAME") or "").strip()
    user_type = str(fields.get("USER_TYPE_ID") or "").strip()
    if not raw_name:
        raise legacy_error("The 'FIELD_NAME' field is not found.")
    if not user_type:
        raise legacy_error("The 'USER_TYPE_ID' field is not found.")
    name = uf_full_name(raw_name)
    if not _UF_NAME.match(name) or len(name) > 50:
        raise RestError("ERROR_CORE", f"Invalid field name {name}", 400)
    if user_type not in UF_TYPES:
        raise RestError("ERROR_CORE", f"Unknown user type {user_type}", 400)
    multiple = _yn(fields.get("MULTIPLE"), "N")
    if user_type == "boolean" and multiple == "Y":
        raise RestError("ERROR_CORE", "A boolean field cannot be multiple", 400)
    if LeadUserField.objects.filter(portal=call.portal, field_name=name).exists():
        raise RestError("ERROR_CORE", f"A user field named {name} already exists", 400)

    try:
        # A concurrent add of the same name loses at the unique constraint,
        # and answers as Bitrix24 does for a duplicate.
        with transaction.atomic(using=SANDBOX_DB):
            uf = _userfield_create(call, name, user_type, multiple, fields)
    except IntegrityError:
        raise RestError(
            "ERROR_CORE", f"A user field named {name} already exists", 400
        ) from None
    return uf.pk


def _userfield_create(
    call: Call, name: str, user_type: str, multiple: str, fields: dict[str, Any]
) -> LeadUserField:
    label = fields.get("LABEL")
    labels = {
        key: fields.get(key) or label
        for key in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL")
        if fields.get(key) or label
    }
    for key in ("ERROR_MESSAGE", "HELP_MESSAGE"):
        if fields.get(key):
            labels[key] = fields[key]
    settings = fields.get("SETTINGS")
    enum_list = [
        {**item, "ID": str(index + 1)}
        for index, item in enumerate(_items(fields.get("LIST") or []))
    ]
    return LeadUserField.objects.create(
        portal=call.portal,
        field_name=name,
        user_type_id=user_type,
        xml_id=str(fields.get("XML_ID") or ""),
        sort=int(str(fields.get("SORT") or 100)),
        multiple=multiple,
        mandatory=_yn(fields.get("MANDATORY"), "N"),
        show_filter=_yn(fields.get("SHOW_FILTER"), "N"),
        show_in_list=_yn(fields.get("SHOW_IN_LIST"), "Y"),
        edit_in_list=_yn(fields.get("EDIT_IN_LIST"), "Y"),
        is_searchable=_yn(fields.get("IS_SEARCHABLE"), "N"),
        settings=settings if isinstance(settings, dict) else {},
        labels=labels,
        enum_list=enum_list,
    )


@method("crm.lead.userfield.list", "crm")
def crm_lead_userfield_list(call: Call) -> Page:
    fields = LeadUserField.objects.filter(portal=call.portal).order_by("sort", "pk")
    filters = call.param("filter", "FILTER") or {}
    if isinstance(filters, dict):
        for key, value in filters.items():
            key = str(key).upper()
            if key == "FIELD_NAME":
                fields = fields.filter(field_name=str(value).upper())
            elif key == "USER_TYPE_ID":
                fields = fields.filter(user_type_id=str(value))
            elif key == "ID":
                fields = fields.filter(pk=_coerce("int", value, "UTC"))
    rows = [uf_payload(uf) for uf in fields]
    return Page(rows, len(rows), None)


def _userfield(call: Call) -> LeadUserField:
    try:
        pk = int(str(call.param("id", "ID")))
    except (TypeError, ValueError):
        raise legacy_error("ID is not defined or invalid.") from None
    uf = LeadUserField.objects.filter(portal=call.portal, pk=pk).first()
    if uf is None:
        raise legacy_error("The entity with ID '" + str(pk) + "' is not found.")
    return uf


@method("crm.lead.userfield.get", "crm")
def crm_lead_userfield_get(call: Call) -> dict[str, Any]:
    return uf_payload(_userfield(call))


@method("crm.lead.userfield.update", "crm")
def crm_lead_userfield_update(call: Call) -> bool:
    """Labels, flags, sort and settings change; name and type never do."""
    if not call.user.is_admin:
        raise legacy_error("Access denied.", 403)
    uf = _userfield(call)
    fields = _fields(call, "fields", "FIELDS")
    label = fields.get("LABEL")
    for key in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL"):
        if fields.get(key) or label:
            uf.labels[key] = fields.get(key) or label
    for key in ("ERROR_MESSAGE", "HELP_MESSAGE"):
        if key in fields:
            uf.labels[key] = fields[key]
    flags = {
        "MANDATORY": "mandatory", "SHOW_FILTER": "show_filter",
        "SHOW_IN_LIST": "show_in_list", "EDIT_IN_LIST": "edit_in_list",
        "IS_SEARCHABLE": "is_searchable",
    }  # fmt: skip
    for key, attr in flags.items():
        if key in fields:
            setattr(uf, attr, _yn(fields[key], getattr(uf, attr)))
    if "SORT" in fields:
        uf.sort = int(str(fields["SORT"]))
    if isinstance(fields.get("SETTINGS"), dict):
        uf.settings = fields["SETTINGS"]
    uf.save()
    return True


@method("crm.lead.userfield.delete", "crm")
def crm_lead_userfield_delete(call: Call) -> bool:
    """The field goes, and its values with it (Bitrix24 drops the column)."""
    if not call.user.is_admin:
        raise legacy_error("Access denied.", 403)
    uf = _userfield(call)
    for lead in Lead.objects.filter(portal=call.portal, uf__has_key=uf.field_name):
        lead.uf.pop(uf.field_name, None)
        lead.save(update_fields=["uf"])
    uf.delete()
    return True


# --- timeline -----------------------------------------------------------------


@method("crm.timeline.comment.add", "crm")
def crm_timeline_comment_add(call: Call) -> int:
    fields = call.params.get("fields")
    if not isinstance(fields, dict):
        raise RestError("100", "Required fields are not provided: fields", 400)
    entity_type = str(fields.get("ENTITY_TYPE") or "").lower()
    comment = str(fields.get("COMMENT") or "")
    try:
        entity_id = int(str(fields.get("ENTITY_ID")))
    except (TypeError, ValueError):
        entity_id = 0
    if not entity_type or entity_id <= 0:
        raise RestError("100", "Required fields are not provided", 400)
    if not comment.strip():
        raise RestError("INVALID_ARG_VALUE", "Empty comment", 400)
    if (
        entity_type != "lead"
        or not Lead.objects.filter(portal=call.portal, pk=entity_id).exists()
    ):
        raise RestError("OWNER_NOT_FOUND", "Owner of the item not found", 400)
    if not visible_leads(call).filter(pk=entity_id).exists():
        raise RestError("ACCESS_DENIED", "Access denied", 403)
    created = TimelineComment.objects.create(
        portal=call.portal,
        entity_type=entity_type,
        entity_id=entity_id,
        comment=comment,
        author_uid=call.user.uid,
        created=clock.now_dt(),
    )
    return created.pk


# --- crm.item.* (entityTypeId 1) -----------------------------------------------

ITEM_NAMES = {
    "ID": "id", "TITLE": "title", "NAME": "name", "SECOND_NAME": "secondName",
    "LAST_NAME": "lastName", "STATUS_ID": "stageId", "SOURCE_ID": "sourceId",
    "SOURCE_DESCRIPTION": "sourceDescription", "COMMENTS": "comments",
    "OPPORTUNITY": "opportunity", "CURRENCY_ID": "currencyId",
    "ASSIGNED_BY_ID": "assignedById", "CREATED_BY_ID": "createdBy",
    "MODIFY_BY_ID": "updatedBy", "OPENED": "opened", "DATE_CREATE": "createdTime",
    "DATE_MODIFY": "updatedTime", "DATE_CLOSED": "dateClosed",
}  # fmt: skip
ITEM_TO_LEGACY = {camel: legacy for legacy, camel in ITEM_NAMES.items()}


def uf_camel(name: str) -> str:
    """UF_CRM_1747309879 -> ufCrm_1747309879; UF_CRM_PDN_CONSENT -> ufCrmPdnConsent."""
    rest = name[len("UF_CRM_") :]
    if rest.isdigit():
        return f"ufCrm_{rest}"
    return "ufCrm" + "".join(part.capitalize() for part in rest.split("_"))


def _fm_first(lead: Lead, type_id: str, value_type: str | None = None) -> str:
    for fm in lead.fm.all():
        if fm.type_id == type_id and value_type in (None, fm.value_type):
            return fm.value
    return ""


def item_payload(
    lead: Lead, ufs: dict[str, LeadUserField], original_uf: bool
) -> dict[str, Any]:
    """A lead as crm.item.* shows it: camelCase, numbers as numbers."""
    tz = lead.portal.time_zone
    types = {fm.type_id for fm in lead.fm.all()}
    extra = lead.extra
    item: dict[str, Any] = {
        "id": lead.pk,
        "createdTime": iso(lead.date_create, tz),
        "dateCreateShort": None,
        "updatedTime": iso(lead.date_modify, tz),
        "dateModifyShort": None,
        "createdBy": lead.created_by_id,
        "updatedBy": lead.modify_by_id,
        "assignedById": lead.assigned_by_id,
        "opened": lead.opened,
        "companyId": 0,
        "contactId": 0,
        "stageId": lead.status_id,
        "isConvert": None,
        "statusDescription": extra.get("STATUS_DESCRIPTION"),
        "stageSemanticId": STATUS_SEMANTIC.get(lead.status_id, "P"),
        "productId": None,
        "opportunity": float(lead.opportunity),
        "currencyId": lead.currency_id,
        "sourceId": lead.source_id or None,
        "sourceDescription": lead.source_description or None,
        "title": lead.title,
        "name": lead.name,
        "lastName": lead.last_name or None,
        "secondName": lead.second_name or None,
        "shortName": None,
        "companyTitle": extra.get("COMPANY_TITLE"),
        "post": extra.get("POST"),
        "address": extra.get("ADDRESS"),
        "comments": lead.comments or None,
        "webformId": 0,
        "originatorId": extra.get("ORIGINATOR_ID"),
        "originId": extra.get("ORIGIN_ID"),
        "dateClosed": iso(lead.date_closed, tz) if lead.date_closed else None,
        "birthdate": extra.get("BIRTHDATE") or None,
        "honorific": extra.get("HONORIFIC"),
        "hasPhone": "Y" if "PHONE" in types else "N",
        "hasEmail": "Y" if "EMAIL" in types else "N",
        "hasImol": "Y" if "IM" in types else "N",
        "login": None,
        "isReturnCustomer": "N",
        "searchContent": f"{lead.pk} {lead.title}",
        "isManualOpportunity": "N",
        "movedBy": lead.modify_by_id,
        "movedTime": iso(lead.date_modify, tz),
        "lastActivityBy": lead.modify_by_id,
        "lastActivityTime": iso(lead.date_modify, tz),
        "phoneMobile": _fm_first(lead, "PHONE", "MOBILE"),
        "phoneWork": _fm_first(lead, "PHONE", "WORK"),
        "phoneMailing": _fm_first(lead, "PHONE", "MAILING"),
        "emailHome": _fm_first(lead, "EMAIL", "HOME"),
        "emailWork": _fm_first(lead, "EMAIL", "WORK"),
        "emailMailing": _fm_first(lead, "EMAIL", "MAILING"),
        "skype": None,
        "icq": None,
        "imol": _fm_first(lead, "IM", "OPENLINE"),
        "email": _fm_first(lead, "EMAIL"),
        "phone": _fm_first(lead, "PHONE"),
        "fm": [
            {
                "id": fm.pk,
                "valueType": fm.value_type,
                "value": fm.value,
                "typeId": fm.type_id,
            }
            for fm in lead.fm.all()
        ],
    }
    for name, field in ufs.items():
        key = name if original_uf else uf_camel(name)
        item[key] = uf_output(field, lead.uf.get(name))
    for camel, legacy in (
        ("utmSource", "UTM_SOURCE"),
        ("utmMedium", "UTM_MEDIUM"),
        ("utmCampaign", "UTM_CAMPAIGN"),
        ("utmContent", "UTM_CONTENT"),
        ("utmTerm", "UTM_TERM"),
    ):
        item[camel] = extra.get(legacy)
    item.update({"observers": [], "contactIds": [], "entityTypeId": 1})
    return item


def _entity_type(call: Call) -> None:
    raw = call.param("entityTypeId", "ENTITY_TYPE_ID")
    if raw is None:
        raise RestError("ENTITY_TYPE_NOT_SUPPORTED", "entityTypeId is required", 400)
    if str(raw) != "1":
        raise RestError(
            "NOT_FOUND", "Smart process not found in this sandbox (only leads)", 400
        )


def _item_filter(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    result = {}
    for key, value in raw.items():
        match = _FILTER_KEY.match(str(key))
        if match is None:
            continue
        op, name = match.group(1) or "", match.group(2)
        legacy = ITEM_TO_LEGACY.get(name)
        if legacy is None and name.startswith("ufCrm"):
            legacy = name  # resolved against camel names below
        if legacy is None and name.upper() in COLUMNS:
            legacy = name.upper()
        if legacy:
            result[op + legacy] = value
    return result


@method("crm.item.list", "crm")
def crm_item_list(call: Call) -> Page:
    _entity_type(call)
    ufs = uf_fields(call.portal)
    by_camel = {uf_camel(n): n for n in ufs}
    filters = {}
    for key, value in _item_filter(call.param("filter")).items():
        match = _FILTER_KEY.match(key)
        assert match is not None
        op, name = match.group(1) or "", match.group(2)
        filters[op + by_camel.get(name, name)] = value
    query = lead_filter(call.portal, filters, ufs)
    order = lead_order(call.param("order"), ITEM_TO_LEGACY)
    queryset = (
        visible_leads(call)
        .filter(query)
        .order_by(*order)
        .select_related("portal")
        .prefetch_related("fm")
    )
    rows, total, following = paged(queryset, call.param("start"))
    original = str(call.param("useOriginalUfNames") or "N").upper() == "Y"
    select = call.param("select")
    items = []
    for row in rows:
        item = item_payload(row, ufs, original)
        if select and "*" not in _as_list(select):
            keep = {str(s) for s in _as_list(select)} | {"id"}
            item = {k: v for k, v in item.items() if k in keep}
        items.append(item)
    return Page({"items": items}, total, following)


def _item(call: Call) -> Lead:
    _entity_type(call)
    try:
        lead_id = int(str(call.param("id")))
    except (TypeError, ValueError):
        lead_id = 0
    lead = (
        visible_leads(call)
        .filter(pk=lead_id)
        .select_related("portal")
        .prefetch_related("fm")
        .first()
    )
    if lead is None:
        raise RestError("NOT_FOUND", "Element not found", 400)
    return lead


@method("crm.item.get", "crm")
def crm_item_get(call: Call) -> dict[str, Any]:
    lead = _item(call)
    original = str(call.param("useOriginalUfNames") or "N").upper() == "Y"
    return {"item": item_payload(lead, uf_fields(call.portal), original)}


@method("crm.item.delete", "crm")
def crm_item_delete(call: Call) -> list[Any]:
    lead = _item(call)
    lead_remove(lead=lead, user_uid=call.user.uid)
    return []


def comment_payload(comment: TimelineComment, tz: str) -> dict[str, Any]:
    return {
        "ID": str(comment.pk),
        "ENTITY_ID": str(comment.entity_id),
        "ENTITY_TYPE": comment.entity_type,
        "CREATED": iso(comment.created, tz),
        "COMMENT": comment.comment,
        "AUTHOR_ID": str(comment.author_uid),
        "FILES": {},
    }


@method("crm.timeline.comment.list", "crm")
def crm_timeline_comment_list(call: Call) -> Page:
    filters = call.param("filter", "FILTER")
    if not isinstance(filters, dict):
        filters = {}
    entity_type = str(filters.get("ENTITY_TYPE") or "").lower()
    try:
        entity_id = int(str(filters.get("ENTITY_ID")))
    except (TypeError, ValueError):
        entity_id = 0
    if not entity_type or entity_id <= 0:
        raise RestError("100", "ENTITY_ID and ENTITY_TYPE are required in filter", 400)
    if entity_type == "lead" and not visible_leads(call).filter(pk=entity_id).exists():
        raise legacy_error("Access denied.")
    comments = TimelineComment.objects.filter(
        portal=call.portal, entity_type=entity_type, entity_id=entity_id
    )
    order = call.param("order", "ORDER")
    descending = isinstance(order, dict) and any(
        str(v).upper() == "DESC" for v in order.values()
    )
    comments = comments.order_by("-pk" if descending else "pk")
    try:
        start = max(int(str(call.param("start") or 0)), 0)
    except ValueError:
        start = 0
    total = comments.count()
    rows = [
        comment_payload(c, call.portal.time_zone)
        for c in comments[start : start + PAGE]
    ]
    select = call.param("select", "SELECT")
    if select:
        keep = {str(s) for s in _as_list(select)} | {"ID"}
        rows = [{k: v for k, v in row.items() if k in keep} for row in rows]
    following = start + PAGE if start + PAGE < total else None
    return Page(rows, total, following)


# --- directories and duplicates ------------------------------------------------

STATUS_LIST: dict[str, list[tuple[str, str, str | None]]] = {
    "STATUS": [
        ("NEW", "Не обработан", "P"),
        ("IN_PROCESS", "В работе", "P"),
        ("PROCESSED", "Обработан", "P"),
        ("JUNK", "Некачественный лид", "F"),
        ("CONVERTED", "Качественный лид", "S"),
    ],
    "SOURCE": [
        ("CALL", "Звонок", None),
        ("WEB", "Веб-сайт", None),
        ("WEBFORM", "CRM-форма", None),
        ("WHATSAPP", "WhatsApp", None),
        ("TELEGRAM", "Telegram", None),
        ("INSTAGRAM", "Instagram", None),
        ("OTHER", "Другое", None),
    ],
}
SEMANTICS = {"P": "process", "S": "success", "F": "failure"}


@method("crm.status.list", "crm")
def crm_status_list(call: Call) -> Page:
    filters = call.param("filter", "FILTER")
    wanted = str(filters.get("ENTITY_ID", "")) if isinstance(filters, dict) else ""
    rows = []
    for number, (entity, items) in enumerate(STATUS_LIST.items()):
        if wanted and wanted != entity:
            continue
        for index, (code, name, semantic) in enumerate(items):
            extra = {"SEMANTICS": SEMANTICS.get(semantic or "", ""), "COLOR": "#39A8EF"}
            rows.append(
                {
                    "ID": str(100 * (number + 1) + index),
                    "ENTITY_ID": entity,
                    "STATUS_ID": code,
                    "NAME": name,
                    "NAME_INIT": name,
                    "SORT": str(10 * (index + 1)),
                    "SYSTEM": "Y",
                    "CATEGORY_ID": None,
                    "COLOR": "#39A8EF" if semantic else None,
                    "SEMANTICS": semantic if semantic in ("S", "F") else None,
                    **({"EXTRA": extra} if semantic else {}),
                }
            )
    return Page(rows, len(rows), None)


def phone_key(value: str) -> str:
    """Digits of a Russian number without its trunk prefix (8 or 7)."""
    digits = re.sub(r"\D", "", value.split("доб")[0].split("ext")[0])
    if len(digits) == 11 and digits[0] in "78":
        return digits[1:]
    return digits


@method("crm.duplicate.findbycomm", "crm")
def crm_duplicate_findbycomm(call: Call) -> Any:
    kind = str(call.param("type", "TYPE") or "").upper()
    values = call.param("values", "VALUES")
    if not kind:
        raise RestError(
            "Communication type is not defined", "Parameter 'type' is required."
        )
    if kind not in ("PHONE", "EMAIL"):
        raise RestError(
            f"Communication type '{kind}' is not supported in current context",
            "Unsupported communication type.",
        )
    if not values:
        raise RestError(
            "Communication values is not defined", "Parameter 'values' is required."
        )
    wanted_values = [str(v) for v in _as_list(values)][:20]
    entity = str(call.param("entity_type", "ENTITY_TYPE") or "LEAD").upper()
    if call.user.crm_access == "none" and not call.user.is_admin:
        raise RestError("403", "Access denied", 403)
    if entity != "LEAD":
        return []  # the sandbox keeps leads only
    rows = Multifield.objects.filter(lead__portal=call.portal, type_id=kind)
    if kind == "PHONE":
        keys = {phone_key(v) for v in wanted_values}
        ids = {row.lead_id for row in rows if phone_key(row.value) in keys}
    else:
        lowered = {v.strip().lower() for v in wanted_values}
        ids = {row.lead_id for row in rows if row.value.strip().lower() in lowered}
    return {"LEAD": sorted(ids)} if ids else []

"""Bitrix24's own consent facility: agreements to read, consents to write."""

import ipaddress
from typing import Any

from sandbox.models import ConsentRecord
from sandbox.rest import Call, RestError, method

AGREEMENTS = {
    1: {
        "NAME": "Согласие на обработку персональных данных",
        "LABEL": "Я даю согласие на обработку моих персональных данных",
        "TEXT": (
            "Я, субъект персональных данных, в соответствии со статьёй 9 "
            "Федерального закона № 152-ФЗ даю согласие {COMPANY_NAME} на обработку "
            "моих персональных данных в целях: {PURPOSES}."
        ),
    },
    2: {
        "NAME": "Согласие на получение рассылки",
        "LABEL": "Я согласен получать новости и предложения",
        "TEXT": "Я согласен получать рассылку от {COMPANY_NAME}.",
    },
}


@method("userconsent.agreement.list", "userconsent")
def agreement_list(call: Call) -> list[dict[str, Any]]:
    return [
        {"ID": str(pk), "NAME": a["NAME"], "ACTIVE": "Y", "LANGUAGE_ID": "ru"}
        for pk, a in sorted(AGREEMENTS.items(), reverse=True)
    ]


def _agreement(raw: Any) -> int:
    try:
        pk = int(str(raw))
    except (TypeError, ValueError):
        raise RestError(
            "ERROR_ARGUMENT", "Parameter `Agreement ID` required."
        ) from None
    if pk not in AGREEMENTS:
        raise RestError("ERROR_ARGUMENT", f"Agreement with id `{pk}` not found.")
    return pk


@method("userconsent.agreement.text", "userconsent")
def agreement_text(call: Call) -> dict[str, str]:
    agreement = AGREEMENTS[_agreement(call.param("id", "ID"))]
    replace = call.param("replace") or {}
    fields = replace.get("fields", {}) if isinstance(replace, dict) else {}
    text = agreement["TEXT"]
    for key in ("COMPANY_NAME", "PURPOSES"):
        text = text.replace("{" + key + "}", str(fields.get(key, "")))
    label = agreement["LABEL"]
    if isinstance(replace, dict) and replace.get("button_caption"):
        label = f"{label} ({replace['button_caption']})"
    return {"LABEL": label, "TEXT": text}


@method("userconsent.consent.add", "userconsent")
def consent_add(call: Call) -> int:
    agreement_id = _agreement(call.param("AGREEMENT_ID", "agreement_id"))
    ip = str(call.param("IP", "ip") or "")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise RestError("ERROR_ARGUMENT", "Parameter `IP` is invalid.") from None
    user = call.param("USER_ID", "user_id")
    record = ConsentRecord.objects.create(
        portal=call.portal,
        agreement_id=agreement_id,
        ip=ip,
        user_uid=int(str(user)) if str(user or "").isdigit() else None,
        url=str(call.param("URL", "url") or ""),
        origin_id=str(call.param("ORIGIN_ID", "origin_id") or ""),
        originator_id=str(call.param("ORIGINATOR_ID", "originator_id") or ""),
    )
    return record.pk

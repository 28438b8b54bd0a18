"""The act and journal extract of a run: every item of order No. 179, no leaks."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import date, timedelta

import pytest
from django.utils import timezone

from compliance.consent import documents, ledger
from compliance.consent.ledger import MANAGER_PLACE
from compliance.journal import Actor
from compliance.models import JournalEntry
from compliance.retention.act import EXTRACT_HEADER, act_text
from compliance.retention.models import DestructionAct, RunLead
from compliance.retention.run import run_begin, run_step
from tests.retention.conftest import RECENTLY, Clinic

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])
TODAY = date.today()
ANNA = {
    "NAME": "Анна",
    "LAST_NAME": "Смирнова",
    "PHONE": [{"VALUE": "+79001234567", "VALUE_TYPE": "MOBILE"}],
    "EMAIL": [{"VALUE": "anna@example.ru", "VALUE_TYPE": "HOME"}],
    "COMMENTS": "Хочу на окрашивание",
}
LEAKS = ["Смирнова", "Анна", "9001234567", "1234567", "234567", "anna@example"]


def run_to_end(clinic: Clinic) -> DestructionAct:
    run = run_begin(portal=clinic.portal, run_date=TODAY)
    assert run is not None
    while run_step(run_id=run.pk).more:
        pass
    return DestructionAct.objects.get(run=run)


def set_operator(clinic: Clinic) -> None:
    documents.settings_update(
        portal=clinic.portal,
        actor=Actor.user(1, "admin"),
        operator_name="ИП Кузнецова Мария Ивановна",
        operator_address="344002, г. Ростов-на-Дону, ул. Большая Садовая, д. 1",
        processors=[
            {"name": "ООО «Облако»", "address": "г. Москва", "role": "хостинг"}
        ],
    )


def test_the_act_holds_every_item_order_179_asks_for(clinic):
    set_operator(clinic)
    (lead_id,) = clinic.leads(1, **ANNA)

    act = run_to_end(clinic)
    text = act_text(act)

    assert "ИП Кузнецова Мария Ивановна" in text  # а) operator
    assert "ул. Большая Садовая" in text  # а) its address
    assert "ООО «Облако»" in text  # б) processor
    assert f"lead#{lead_id} phone:ph" in text  # в) subject identified
    assert "ФИО ____" in text and "подпись" in text  # г) who destroyed, signatures
    for category in ("номер телефона", "фамилия, имя, отчество", "электронной почты"):
        assert category in text  # д) categories
    assert "бумажные носители не уничтожались" in text  # е) paper carriers
    assert "CRM Битрикс24 портала" in text  # ж) the information system
    assert "crm.lead.delete" in text and "ключа шифрования" in text  # з) method
    assert "истёк срок хранения" in text  # и) reason
    assert TODAY.isoformat() in text  # к) date
    assert "Корзину" in text and "30 дней" in text  # what Bitrix24 keeps


def test_the_extract_has_the_five_fields_and_names_nobody(clinic):
    (lead_id,) = clinic.leads(1, **ANNA)

    act = run_to_end(clinic)
    rows = list(csv.DictReader(io.StringIO(act.csv)))

    assert list(rows[0]) == EXTRACT_HEADER
    (row,) = rows
    assert row["subject"] == f"lead#{lead_id}"
    assert set(row["categories"].split(";")) >= {"full_name", "phone", "email"}
    assert row["system"] and row["reason"] == "retention_period_ended"
    assert row["destroyed_on"] == TODAY.isoformat()
    for leak in LEAKS:
        assert leak not in act.csv


def test_journal_entries_and_logs_carry_ids_never_names_or_phones(clinic, caplog):
    caplog.set_level(logging.DEBUG)
    (lead_id,) = clinic.leads(1, **ANNA)

    run_to_end(clinic)

    entries = JournalEntry.objects.filter(portal=clinic.portal)
    text = " ".join(f"{e.subject} {e.details}" for e in entries)
    assert f"lead#{lead_id}" in text
    for leak in LEAKS:
        assert leak not in text
        assert leak not in caplog.text
    row = RunLead.objects.get(lead_id=lead_id, portal=clinic.portal)
    assert not any(leak in json.dumps(row.categories) for leak in LEAKS)


def test_full_names_go_into_the_act_only_when_the_policy_asks(clinic):
    clinic.policy.act_names = True
    clinic.policy.save()
    clinic.leads(1, **ANNA)

    act = run_to_end(clinic)

    assert "Смирнова Анна" in act_text(act)
    assert "Смирнова" not in act.csv


def test_a_lead_whose_consent_was_withdrawn_is_destroyed_at_the_next_run(clinic):
    (withdrawn,) = clinic.leads(1, when=RECENTLY)
    (kept,) = clinic.leads(1, when=RECENTLY)
    ledger.consent_withdraw(
        portal=clinic.portal,
        client_ref=f"lead:{withdrawn}",
        lead_id=withdrawn,
        place=MANAGER_PLACE,
        manager_user_id=7,
        note="звонок",
    )
    clinic.policy.grace_days = 30
    clinic.policy.save()

    run = run_begin(portal=clinic.portal, run_date=TODAY)
    assert run is not None
    while run_step(run_id=run.pk).more:
        pass

    assert not clinic.exists(withdrawn)
    assert clinic.exists(kept)
    row = RunLead.objects.get(run=run, lead_id=withdrawn)
    assert row.reason == "consent_withdrawn"
    # 152-FZ art. 21 part 5: even the restorable archive is gone within 30 days.
    assert row.destroy_by is not None and row.purge_after is not None
    assert row.purge_after < row.destroy_by <= timezone.now() + timedelta(days=30)


def test_a_withdrawn_leads_archive_is_destroyed_before_the_30_days_run_out(clinic):
    (lead_id,) = clinic.leads(1, when=RECENTLY, **ANNA)
    ledger.consent_withdraw(
        portal=clinic.portal,
        client_ref=f"lead:{lead_id}",
        lead_id=lead_id,
        place=MANAGER_PLACE,
        manager_user_id=7,
        note="письмо",
    )
    clinic.policy.grace_days = 30
    clinic.policy.save()
    run = run_begin(portal=clinic.portal, run_date=TODAY)
    assert run is not None
    while run_step(run_id=run.pk).more:
        pass
    row = RunLead.objects.get(run=run, lead_id=lead_id)
    assert row.state == RunLead.State.CONFIRMED and row.destroy_by is not None

    on_the_last_day = row.destroy_by - timedelta(hours=12)
    later = run_begin(
        portal=clinic.portal, run_date=on_the_last_day.date(), now=on_the_last_day
    )
    assert later is not None
    while run_step(run_id=later.pk, now=on_the_last_day).more:
        pass

    row.refresh_from_db()
    assert row.state == RunLead.State.PURGED and row.purged_run_id == later.pk
    assert later.act.destroyed_count == 1


def test_a_masked_phone_is_named_in_the_act_by_its_sealed_originals_pseudonym(
    clinic,
):
    from compliance import vault
    from integrator.rest import portal_client

    portal_client(clinic.portal).call(
        "crm.lead.userfield.add",
        {"fields": {"FIELD_NAME": "PDN_ORIGINAL_PHONE", "USER_TYPE_ID": "string"}},
    )
    sealed = vault.encrypt_phone(clinic.portal, "+79001234567")
    (lead_id,) = clinic.leads(
        1,
        PHONE=[{"VALUE": "+7 900 ***-**-67", "VALUE_TYPE": "MOBILE"}],
        UF_CRM_PDN_ORIGINAL_PHONE=sealed,
    )

    act = run_to_end(clinic)

    pseudonym = vault.pseudonym(clinic.portal, "+79001234567")[:20]
    assert f"lead#{lead_id} phone:{pseudonym}" in act_text(act)
    assert "1234567" not in act.csv

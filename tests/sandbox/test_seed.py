import re

import pytest
from django.core.management import call_command

from sandbox.models import Lead, Multifield, Portal
from sandbox.seed import inn, snils, spell_phone

pytestmark = pytest.mark.django_db(databases=["default", "sandbox"])


def snils_valid(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits[:9]))
    control = total if total < 100 else (0 if total in (100, 101) else total % 101)
    return int(digits[9:]) == (0 if control == 100 else control)


def inn_valid(number: str) -> bool:
    d = [int(c) for c in number]
    w11 = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8]
    w12 = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]
    n11 = sum(a * b for a, b in zip(w11, d, strict=False)) % 11 % 10
    n12 = sum(a * b for a, b in zip(w12, d, strict=False)) % 11 % 10
    return d[10] == n11 and d[11] == n12


def test_the_snils_of_the_field_case_checks_out():
    assert snils_valid("464-460-495 00")
    assert snils_valid("123 456 789 64")
    assert not snils_valid("123 456 789 65")


def test_seeding_twice_creates_the_demo_once(capsys):
    Portal.objects.filter(slug="").delete()
    call_command("sandbox_seed", leads=120)
    call_command("sandbox_seed", leads=120)

    portal = Portal.objects.get(slug="")
    assert portal.title == "Салон красоты «Бархат», Ростов-на-Дону"
    assert portal.users.get(uid=1).full_name == "Ирина Админова"
    assert Lead.objects.filter(portal=portal).count() == 120
    assert "0 leads created, 120 in total" in capsys.readouterr().out


def test_the_demo_leads_look_like_a_salons_inbox():
    Portal.objects.filter(slug="").delete()
    call_command("sandbox_seed")
    leads = Lead.objects.filter(portal__slug="")
    phones = Multifield.objects.filter(lead__portal__slug="", type_id="PHONE")
    comments = list(leads.values_list("comments", flat=True))

    assert leads.count() == 320
    assert set(leads.values_list("source_id", flat=True)) == {
        "WHATSAPP", "TELEGRAM", "INSTAGRAM", "WEBFORM",
    }  # fmt: skip
    shapes = {re.sub(r"\d", "0", p) for p in phones.values_list("value", flat=True)}
    assert len(shapes) >= 6
    snilses = [m for c in comments for m in re.findall(r"\d{3}-\d{3}-\d{3} \d{2}", c)]
    passports = [c for c in comments if "паспорт" in c]
    assert snilses and all(snils_valid(s) for s in snilses)
    assert passports
    span = (
        leads.latest("date_create").date_create
        - leads.earliest("date_create").date_create
    )
    assert 400 < span.days <= 548


def test_generators_produce_valid_numbers_and_every_spelling():
    import random

    rng = random.Random(1)
    assert all(snils_valid(snils(rng)) for _ in range(200))
    assert all(inn_valid(inn(rng)) for _ in range(200))
    spellings = {spell_phone("9001234567", style) for style in range(8)}
    assert "8 (900) 123-45-67" in spellings
    assert "900 123 45 67" in spellings
    assert len(spellings) == 8

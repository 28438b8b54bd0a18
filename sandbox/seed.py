"""Demo data: a beauty salon in Rostov-on-Don with 18 months of leads.

Deterministic (a fixed random seed) and idempotent: each lead carries
``ORIGIN_ID = demo-<n>``, and only the missing ones are created.
"""

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction

from sandbox import clock
from sandbox.install import app_registration
from sandbox.models import Lead, Multifield, Portal
from sandbox.portals import portal_create
from sandbox.router import SANDBOX_DB

DEMO_TITLE = "Салон красоты «Бархат», Ростов-на-Дону"
DEMO_LEADS = 320
SEED = 20250301

FEMALE = [
    ("Анна", "Смирнова"), ("Екатерина", "Иванова"), ("Мария", "Кузнецова"),
    ("Ольга", "Попова"), ("Дарья", "Соколова"), ("Алина", "Лебедева"),
    ("Виктория", "Козлова"), ("Полина", "Новикова"), ("Юлия", "Морозова"),
    ("Ксения", "Волкова"), ("Татьяна", "Алексеева"), ("Светлана", "Павлова"),
    ("Наталья", "Семёнова"), ("Елена", "Голубева"), ("Ирина", "Виноградова"),
    ("Валерия", "Богданова"), ("Карина", "Арутюнян"), ("Диана", "Саркисян"),
    ("Милана", "Гончаренко"), ("Вероника", "Ткаченко"),
]  # fmt: skip
MALE = [
    ("Иван", "Петров"), ("Дмитрий", "Сидоренко"), ("Артём", "Фёдоров"),
    ("Максим", "Григорьев"), ("Сергей", "Бондаренко"), ("Андрей", "Мельников"),
]  # fmt: skip
SERVICES = [
    # (as a title, as the object of "записаться на …")
    ("стрижка", "стрижку"), ("окрашивание", "окрашивание"),
    ("маникюр", "маникюр"), ("педикюр", "педикюр"),
    ("наращивание ресниц", "наращивание ресниц"), ("чистка лица", "чистку лица"),
    ("массаж спины", "массаж спины"), ("коррекция бровей", "коррекцию бровей"),
    ("укладка", "укладку"), ("SPA-уход", "SPA-уход"),
]  # fmt: skip
SOURCES = [
    ("WHATSAPP", "WhatsApp"),
    ("TELEGRAM", "Telegram"),
    ("INSTAGRAM", "Instagram"),
    ("WEBFORM", "Форма на сайте"),
]
STATUSES = ["NEW", "NEW", "IN_PROCESS", "PROCESSED", "CONVERTED", "JUNK"]
WISHES = [
    "Хочу записаться на {service} в субботу после 15:00.",
    "Подскажите цену на {service}? Можно на завтра?",
    "Добрый день! Интересует {service}, удобно в будни утром.",
    "Запишите, пожалуйста, на {service} к Алине, если можно.",
    "Сколько длится {service}? Перезвоните мне вечером.",
]


def snils(rng: random.Random) -> str:
    """A SNILS with a valid control number (weights 9..1, mod 101 rules)."""
    digits = [rng.randint(0, 9) for _ in range(9)]
    digits[0] = rng.randint(1, 9)
    total = sum(d * (9 - i) for i, d in enumerate(digits))
    if total < 100:
        control = total
    elif total in (100, 101):
        control = 0
    else:
        control = total % 101
        control = 0 if control == 100 else control
    d = "".join(map(str, digits))
    return f"{d[0:3]}-{d[3:6]}-{d[6:9]} {control:02d}"


def inn(rng: random.Random) -> str:
    """A personal (12-digit) INN with both check digits valid."""
    digits = [rng.randint(0, 9) for _ in range(10)]
    digits[0:2] = [6, 1]  # Rostov region
    w11 = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8]
    digits.append(sum(w * d for w, d in zip(w11, digits, strict=True)) % 11 % 10)
    w12 = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]
    digits.append(sum(w * d for w, d in zip(w12, digits, strict=True)) % 11 % 10)
    return "".join(map(str, digits))


def passport(rng: random.Random) -> str:
    return f"60 {rng.randint(10, 24):02d} {rng.randint(100000, 999999)}"


def spell_phone(national: str, style: int) -> str:
    """One ten-digit number written the ways clients write it."""
    a, b, c, d = national[:3], national[3:6], national[6:8], national[8:]
    styles = [
        f"8 ({a}) {b}-{c}-{d}",
        f"+7 {a} {b} {c} {d}",
        f"8{national}",
        f"7-{a}-{b}-{c}-{d}",
        f"+7({a}){b}{c}{d}",
        f"8-{a}-{b}-{c}{d}",
        f"{a} {b} {c} {d}",
        f"+7{national}",
    ]
    return styles[style % len(styles)]


def _national(rng: random.Random) -> str:
    if rng.random() < 0.12:
        return f"863{rng.randint(2000000, 2999999)}"  # Rostov landline
    return f"9{rng.randint(0, 99):02d}{rng.randint(0, 9999999):07d}"


def _comment(rng: random.Random, service: str) -> str:
    text = rng.choice(WISHES).format(service=service)
    roll = rng.random()
    if roll < 0.06:
        text += f" Для договора: паспорт {passport(rng)}."
    elif roll < 0.11:
        text += f" СНИЛС {snils(rng)}, оформите налоговый вычет."
    elif roll < 0.13:
        text += f" ИНН {inn(rng)} для чека."
    return text


def seed_demo(*, leads: int = DEMO_LEADS) -> tuple[Portal, int]:
    """Create the demo portal, its users, the app registration and leads."""
    with transaction.atomic(using=SANDBOX_DB):
        portal = portal_create(slug="", plan="standard", title=DEMO_TITLE)
        app_registration()
        existing = set(
            Lead.objects.filter(portal=portal, extra__has_key="ORIGIN_ID").values_list(
                "extra__ORIGIN_ID", flat=True
            )
        )
        rng = random.Random(SEED)
        now = clock.now_dt()
        created = 0
        for n in range(leads):
            # Draw every value even for existing leads, so numbers stay stable.
            first, last = rng.choice(FEMALE if rng.random() < 0.85 else MALE)
            source, label = rng.choice(SOURCES)
            service, service_object = rng.choice(SERVICES)
            age = timedelta(days=rng.uniform(0, 548), minutes=rng.randint(0, 600))
            national = _national(rng)
            style = rng.randint(0, 7)
            status = rng.choice(STATUSES)
            assigned = rng.choice([1, 2, 2, 3, 3])
            comment = _comment(rng, service_object)
            origin = f"demo-{n}"
            if origin in existing:
                continue
            moment = now - age
            lead = Lead.objects.create(
                portal=portal,
                title=f"{label}: {first} — {service}",
                name=first,
                last_name=last if rng.random() < 0.6 else "",
                status_id=status,
                source_id=source,
                source_description=label,
                comments=comment,
                opportunity=Decimal(rng.choice([0, 1500, 2500, 3200, 4800])),
                assigned_by_id=assigned,
                created_by_id=assigned,
                modify_by_id=assigned,
                date_create=moment,
                date_modify=moment,
                extra={"ORIGIN_ID": origin, "ORIGINATOR_ID": "demo"},
            )
            Multifield.objects.create(
                lead=lead,
                type_id="PHONE",
                value_type="MOBILE" if national[0] == "9" else "WORK",
                value=spell_phone(national, style),
            )
            created += 1
    return portal, created

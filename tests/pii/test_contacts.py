"""E-mails, addresses and birth dates; dates that are not birth dates stay."""

import pytest

from pii import Kind, Pseudonymiser, detect


def found(text):
    return [(s.kind, s.value) for s in detect(text)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("пишите на anna.s@mail.ru, спасибо", "anna.s@mail.ru"),
        ("почта: иван@почта.рф", "иван@почта.рф"),
        ("ivan.petrov [at] yandex.ru", "ivan.petrov [at] yandex.ru"),
    ],
)
def test_e_mails(text, value):
    assert found(text) == [(Kind.EMAIL, value)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (
            "Адрес: г. Казань, ул. Баумана, д. 12, кв. 4.",
            "г. Казань, ул. Баумана, д. 12, кв. 4",
        ),
        ("доставка на ул. Тверская, 12-34", "ул. Тверская, 12-34"),
        ("живу на улице Ленина дом 5 квартира 12", "улице Ленина дом 5 квартира 12"),
        ("пр-т Мира, д. 15, кв. 3", "пр-т Мира, д. 15, кв. 3"),
    ],
)
def test_addresses(text, value):
    assert found(text) == [(Kind.ADDRESS, value)]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Дата рождения 12.03.1985.", "1985-03-12"),
        ("д.р. 1985-03-12", "1985-03-12"),
        ("родилась 5 марта 1990 г., запишите", "1990-03-05"),
        ("12.03.1985 г.р.", "1985-03-12"),
    ],
)
def test_birth_dates_are_found_by_their_words(text, iso):
    assert [(s.kind, s.normal) for s in detect(text)] == [(Kind.BIRTH_DATE, iso)]


@pytest.mark.parametrize(
    "text",
    [
        "Приём 14.05.2025 в 10:30, кабинет 12.",
        "Заказ № 5402281 от 01.02.2025, сумма 15 000 руб.",
        "Перезвоните после 18:45, пожалуйста.",
        "Стоимость 2 490 рублей, скидка 10%.",
    ],
)
def test_appointment_dates_times_prices_and_orders_stay(text):
    assert detect(text) == []
    assert Pseudonymiser().pseudonymise(text) == text

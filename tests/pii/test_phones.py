"""Russian phone writings normalise to one E.164 key and one placeholder."""

import pytest

from pii import Kind, Pseudonymiser, detect, normalize_phone

GROUP_A = [
    "8 (900) 123-45-67",
    "+7 900 123 45 67",
    "89001234567",
    "7-900-123-45-67",
    "+7(900)1234567",
    "8-900-123-4567",
    "900 123 45 67",
]
GROUP_B = ["8 (812) 555-01-23", "+7 812 555 01 23", "812 555 01 23"]
GROUP_C = ["8 800 555-35-35"]
C09 = (
    "Добрый день! Мой номер 8(900)123-45-67, жена — тел.89007654321, рабочий "
    "8 812 555-01-23 доб. 104. Перезвоните на +7 900 1234567. Заказ № 5402281, "
    "сумма 15000 руб."
)


@pytest.mark.parametrize(
    ("writings", "e164"),
    [(GROUP_A, "+79001234567"), (GROUP_B, "+78125550123"), (GROUP_C, "+78005553535")],
)
def test_every_writing_normalises_to_the_listed_e164(writings, e164):
    assert [normalize_phone(w) for w in writings] == [e164] * len(writings)


def test_normalising_never_strips_an_eight_that_belongs_to_the_area_code():
    keys = {normalize_phone(w) for w in GROUP_B + GROUP_C}
    assert "+7005553535" not in keys
    assert "+7125550123" not in keys


def test_a_non_number_does_not_normalise():
    assert normalize_phone("12345") is None
    assert normalize_phone("заказ") is None


def test_one_placeholder_per_group_and_different_ones_across_groups():
    pseudonymiser = Pseudonymiser()
    placeholders = {}
    for name, group in {"A": GROUP_A, "B": GROUP_B, "C": GROUP_C}.items():
        outs = {pseudonymiser.pseudonymise(f"Звоните: {w}.") for w in group}
        placeholders[name] = outs
    assert placeholders == {
        "A": {"Звоните: [ТЕЛЕФОН_1]."},
        "B": {"Звоните: [ТЕЛЕФОН_2]."},
        "C": {"Звоните: [ТЕЛЕФОН_3]."},
    }


def test_the_chat_message_yields_exactly_the_four_phones():
    phones = [s.value for s in detect(C09) if s.kind is Kind.PHONE]
    assert phones == [
        "8(900)123-45-67",
        "89007654321",
        "8 812 555-01-23",
        "+7 900 1234567",
    ]


def test_the_order_number_and_the_sum_are_not_phones():
    spans = detect(C09)
    covered = "".join(C09[s.start : s.end] for s in spans)
    assert "5402281" not in covered
    assert "15000" not in covered


def test_no_run_of_the_original_digits_goes_out():
    out = Pseudonymiser().pseudonymise(C09)
    for digits in ["9001234567", "9007654321", "8125550123", "1234567", "7654321"]:
        assert digits not in out.replace("-", "").replace(" ", "")
    assert out.count("[ТЕЛЕФОН_") == 4
    assert "[ТЕЛЕФОН_1]" in out and "[ТЕЛЕФОН_3]" in out
    assert "5402281" in out and "15000" in out


@pytest.mark.parametrize(
    "text",
    [
        "т.8(916)1234567",
        "тел.89161234567",
        "моб: +7-916-123-45-67",
        "WhatsApp 79161234567",
        "тел. 8–916–123–45–67",
        "тел. 8\u00a0916\u00a0123\u00a045\u00a067",
    ],
)
def test_numbers_glued_to_abbreviations_are_found(text):
    assert [s.normal for s in detect(text) if s.kind is Kind.PHONE] == ["+79161234567"]

"""SNILS, INN, passports, cards and OMS policies: checksums and context."""

import pytest

from pii import Kind, Pseudonymiser, detect
from pii.checksums import inn_valid, luhn_valid, oms_check, snils_check, snils_valid

C11 = (
    "СНИЛС 464-460-495 00, второй 123 456 789 64, ИНН 771043321815, паспорт "
    "45 10 123456, карта 2200 1234 5678 9019. Номер заказа 771043321816."
)


def kinds(text):
    return [(s.kind, s.value) for s in detect(text)]


def test_snils_control_of_a_sum_of_201_is_00():
    assert snils_check("464460495") == "00"
    assert snils_valid("46446049500")


def test_snils_control_of_a_sum_of_165_is_64():
    assert snils_check("123456789") == "64"


@pytest.mark.parametrize("total", [100, 101])
def test_snils_sums_of_100_and_101_give_00(total):
    # Nine digits whose weighted sum (weights 9..1) is exactly ``total``.
    for n in range(1_002_000, 999_999_999, 7919):
        first = f"{n:09d}"
        if (
            sum(int(d) * w for d, w in zip(first, range(9, 0, -1), strict=True))
            == total
        ):
            assert snils_check(first) == "00"
            return
    pytest.fail("no example found")


def test_inn_checksums():
    assert inn_valid("771043321815")
    assert not inn_valid("771043321816")
    assert inn_valid("7707083893")
    assert not inn_valid("7707083894")


def test_luhn():
    assert luhn_valid("2200123456789019")
    assert not luhn_valid("2200123456789018")


def test_oms_control_digit_follows_the_worked_example():
    # Odd positions right to left: 53197531 * 2 = 106395062; even positions
    # right to left: 4208642; digit sum 58; control (10 - 8) % 10 = 2.
    assert oms_check("123456789012345") == 2


def test_the_c11_message_gets_every_type_right():
    assert kinds(C11) == [
        (Kind.SNILS, "464-460-495 00"),
        (Kind.SNILS, "123 456 789 64"),
        (Kind.INN, "771043321815"),
        (Kind.PASSPORT, "45 10 123456"),
        (Kind.CARD, "2200 1234 5678 9019"),
        (Kind.NUMBER, "771043321816"),
    ]


def test_an_order_number_with_a_bad_inn_checksum_is_not_an_inn():
    assert (Kind.INN, "771043321816") not in kinds(C11)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ИНН 771043321816", Kind.INN),
        ("СНИЛС 123-456-789 00", Kind.SNILS),
        ("снилс: 12345678900", Kind.SNILS),
    ],
)
def test_a_context_word_masks_even_a_bad_checksum(text, kind):
    assert [s.kind for s in detect(text)] == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "паспорт 4510 123456",
        "паспорт 4510123456",
        "паспорт 45 10 № 123456",
        "серия 4510 номер 123456",
        "паспорт 4510-123456",
    ],
)
def test_passport_writings(text):
    assert [s.kind for s in detect(text)] == [Kind.PASSPORT]


def test_a_passport_that_is_also_a_valid_phone_is_a_passport_by_its_word():
    assert [s.kind for s in detect("паспорт 84 83 769949")] == [Kind.PASSPORT]


def test_a_sixteen_digit_policy_is_oms_by_its_word():
    assert [s.kind for s in detect("полис ОМС 7700000000000010")] == [Kind.OMS]


def test_an_unclaimed_long_number_is_masked_anyway():
    out = Pseudonymiser().pseudonymise("код 12345678901234567890123 готов")
    assert "1234567890" not in out
    assert "[НОМЕР_1]" in out


def test_the_same_snils_in_two_writings_is_one_placeholder():
    p = Pseudonymiser()
    first = p.pseudonymise("СНИЛС 464-460-495 00")
    second = p.pseudonymise("снилс 46446049500")
    assert first == "СНИЛС [СНИЛС_1]"
    assert second == "снилс [СНИЛС_1]"

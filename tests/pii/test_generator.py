"""The generated chat corpus is deterministic and labelled correctly."""

import re

from pii import Kind
from pii.checksums import inn_valid, luhn_valid, oms_valid, snils_valid
from pii.generator import ChatGenerator
from pii.phones import normalize_phone


def messages(seed):
    return [m for dialog in ChatGenerator(seed).corpus(2000) for m in dialog]


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another():
    first, again, other = messages(3), messages(3), messages(4)
    assert [m.text for m in first] == [m.text for m in again]
    assert [m.text for m in first] != [m.text for m in other]
    assert len(first) >= 2000


def test_every_labelled_identifier_is_valid_and_every_phone_normalises():
    checks = {
        Kind.SNILS: snils_valid,
        Kind.INN: inn_valid,
        Kind.CARD: luhn_valid,
        Kind.OMS: oms_valid,
    }
    seen = set()
    for message in messages(5):
        for start, end, kind, ident in message.spans:
            value = message.text[start:end]
            seen.add(kind)
            if kind in checks:
                assert checks[kind](re.sub(r"\D", "", value)), value
            if kind is Kind.PHONE:
                assert normalize_phone(value) == ident
    assert seen >= {Kind.PERSON, Kind.PHONE, Kind.EMAIL, Kind.ADDRESS, Kind.BIRTH_DATE}


def test_the_corpus_holds_the_hard_negatives():
    texts = " ".join(m.text for m in messages(6))
    for word in ("Вера в успех", "Надежда только", "Любовь к своему", "Заказ №"):
        assert word in texts

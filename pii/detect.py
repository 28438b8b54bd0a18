"""One entry point that runs every detector and resolves overlaps."""

import re

from pii.kinds import Kind, Span
from pii.names import find_names
from pii.numbers import find_numbers

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}"
    r"(?:@|\s?\[at\]\s?|\s?\(at\)\s?|\s+собака\s+)"
    r"(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![\w-])"
    r"|(?<![\w.+-])[\w.+-]{1,64}@(?:[\w-]{1,63}\.){1,8}(?:рф|[A-Za-z]{2,24})(?![\w-])",
    re.IGNORECASE,
)
_STREET = (
    r"(?:ул\.|улиц[аеуы]|пр-т\.?|пр-кт\.?|просп\.|проспект[аеу]?|пер\.|переул(?:ок|ке|ка)"
    r"|б-р|бульвар[аеу]?|ш\.|шоссе|наб\.|набережн(?:ая|ой|ую)|пл\.|площад[ьи]"
    r"|пр\.|проезд[аеу]?|мкр\.?|микрорайон[аеу]?|тупик[аеу]?|алле[яиюе])"
)
_TOWN = r"(?:(?:г\.|город|пос\.|пгт|с\.|дер\.)\s?[А-ЯЁ][а-яё-]+,?\s*)"
_ADDRESS = re.compile(
    rf"(?:\d{{6}},?\s*)?{_TOWN}?{_STREET}\s?(?:[А-ЯЁа-яё0-9-]+\.?\s?){{1,3}}?,?\s*"
    r"(?:д\.|дом)?\s?\d{1,4}[а-яА-Я]?(?:[/-]\d{1,4})?"
    r"(?:,?\s*(?:корп\.|корпус|к\.|стр\.|строение)\s?\d{1,3})?"
    r"(?:,?\s*(?:кв\.|квартир[аеуы]|оф\.|офис)\s?\d{1,4})?"
    r"|(?:\d{6},?\s*)?(?:г\.|город)\s?[А-ЯЁ][а-яё-]+(?:,\s*|\s+)(?:д\.|дом)\s?\d{1,4}"
    r"(?:,?\s*(?:кв\.|квартира)\s?\d{1,4})?",
    re.IGNORECASE,
)

# Earlier kinds win an overlap: checksummed and context-confirmed data
# first, names (the least certain detector) last.
_PRIORITY = {
    Kind.EMAIL: 0,
    Kind.SNILS: 1,
    Kind.INN: 1,
    Kind.CARD: 1,
    Kind.OMS: 1,
    Kind.PASSPORT: 1,
    Kind.BIRTH_DATE: 2,
    Kind.PHONE: 2,
    Kind.ADDRESS: 3,
    Kind.NUMBER: 4,
    Kind.PERSON: 5,
}


def _emails(text: str) -> list[Span]:
    return [
        Span(m.start(), m.end(), Kind.EMAIL, m[0], _email_key(m[0]))
        for m in _EMAIL.finditer(text)
    ]


def _email_key(value: str) -> str:
    key = re.sub(r"\s?(?:\[at\]|\(at\))\s?|\s+собака\s+", "@", value, flags=re.I)
    return key.lower()


def _addresses(text: str) -> list[Span]:
    found = []
    for m in _ADDRESS.finditer(text):
        value = m[0].rstrip(" ,")
        if not re.search(r"\d", value):
            continue
        key = re.sub(r"\s+", " ", value.lower().replace("ё", "е"))
        found.append(Span(m.start(), m.start() + len(value), Kind.ADDRESS, value, key))
    return found


def detect(text: str) -> list[Span]:
    """Every piece of personal data in ``text``, ordered and non-overlapping."""
    candidates = _emails(text) + find_numbers(text) + _addresses(text)
    chosen: list[Span] = []
    for span in sorted(candidates, key=lambda s: (_PRIORITY[s.kind], s.start)):
        if not any(c.start < span.end and span.start < c.end for c in chosen):
            chosen.append(span)

    blocked = [(s.start, s.end) for s in chosen]
    for name in find_names(text, blocked):
        if not any(c.start < name.end and name.start < c.end for c in chosen):
            chosen.append(name)
    return sorted(chosen, key=lambda s: s.start)

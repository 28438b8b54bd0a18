"""Digit-based personal data: phones, SNILS, INN, passports, cards, OMS, DOB.

Digit runs are classified by a fixed priority: a context word right before
the run decides first, then checksums, then the phone plan, then the shape
of the groups. Whatever stays unclaimed and has ten or more digits is masked
as a bare number, because leaking an identifier is worse than hiding one.
"""

import re
from dataclasses import dataclass
from datetime import date

from pii.checksums import inn_valid, luhn_valid, oms_valid, snils_valid
from pii.kinds import Kind, Span
from pii.phones import phone_key

# Digit groups joined by short separators: "8 (900) 123-45-67", "464-460-495 00".
_CHAIN = re.compile(
    # Separators: spaces (also no-break and thin), hyphens and dashes of every
    # kind, brackets, a dot, or "№".
    r"\+?\(?\d+(?:(?:[\s\u2009\u202f\-\u2010-\u2015\u2212()]{1,3}|\.|\s?№\s?)\d+)*"
)
_GROUP = re.compile(r"\d+")

_MONTHS = (
    "январ[яь]|феврал[яь]|март[а]?|апрел[яь]|ма[яй]|июн[яь]|июл[яь]|август[а]?"
    "|сентябр[яь]|октябр[яь]|ноябр[яь]|декабр[яь]"
)
_MONTH_NUMBER = {
    "янв": 1, "фев": 2, "мар": 3, "апр": 4, "ма": 5, "июн": 6,
    "июл": 7, "авг": 8, "сен": 9, "окт": 10, "ноя": 11, "дек": 12,
}  # fmt: skip
_DATE_NUMERIC = re.compile(
    r"(?<!\d)(?P<d>\d{1,2})(?P<sep>[./-])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})(?!\d)"
)
_DATE_ISO = re.compile(r"(?<!\d)(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?!\d)")
_DATE_WORDS = re.compile(
    rf"(?<!\d)(?P<d>\d{{1,2}})\s+(?P<m>{_MONTHS})\s+(?P<y>\d{{4}})(?:\s*(?:г\.|года|г\b))?",
    re.IGNORECASE,
)
_YEAR_OF_BIRTH = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*(?:г\.\s?р\.?|года рождения|г\.?р\.?)",
    re.IGNORECASE,
)
_BIRTH_BEFORE = re.compile(
    r"(?:д\.\s?р\.?|д/р|рожд|родил|\bдр\b|г\.\s?р\.?)[^\d]{0,20}$", re.IGNORECASE
)
_BIRTH_AFTER = re.compile(r"^\s*(?:г\.\s?р|года рождения|г\.р|г\. р)", re.IGNORECASE)

_PASSPORT_WORDS = re.compile(
    r"(?:серия|сер\.)\s*(?P<series>\d{2}[ \u00a0]?\d{2})\s*,?\s*(?:номер|№|н\.)\s*"
    r"(?P<number>\d{6})(?!\d)",
    re.IGNORECASE,
)
_DIVISION_CODE = re.compile(
    r"код\w*\s+подразделени\w*\s*:?\s*(?P<code>\d{3}-?\d{3})(?!\d)", re.IGNORECASE
)

# The keyword nearest to a digit run (within the window before it) decides.
_CONTEXT = re.compile(
    r"(?P<snils>снилс|страхов\w*\s+(?:номер|свидетельств\w*))"
    r"|(?P<inn>\bинн\b)"
    r"|(?P<passport>паспорт\w*|\bпасп\b|\bсерия\b|\bсер\b)"
    r"|(?P<oms>полис\w*|\bомс\b|\bенп\b)"
    r"|(?P<card>\bкарт[аыуеой]\w*|\bvisa\b|mastercard|\bмир\b)"
    r"|(?P<phone>\bтел\b|телефон\w*|\bт\b|\bмоб\w*|звон\w*|whatsapp|ват+сап|вотсап"
    r"|viber|вайбер|telegram|телеграм\w*|\bномер\b|\bсот\w*)"
    r"|(?P<other>заказ\w*|сч[её]т\w*|договор\w*|артикул\w*|накладн\w*|трек\w*"
    r"|заявк\w*|чек\w*|\bруб\w*|\bшт\b|\bрейс\w*|\bкод\w*|\bлот\w*)",
    re.IGNORECASE,
)
_WINDOW = 40
_MAX_DIGITS = 19
_SENTENCE_END = re.compile(r"[.!?…]\s+(?=[А-ЯЁA-Z])")


@dataclass(frozen=True, slots=True)
class _Group:
    start: int
    end: int
    digits: str


def _context(text: str, start: int, floor: int) -> str | None:
    """Name of the keyword class nearest before ``start``, if any."""
    window = text[max(floor, start - _WINDOW) : start]
    # A keyword in an earlier sentence says nothing about this number.
    ends = list(_SENTENCE_END.finditer(window))
    if ends:
        window = window[ends[-1].end() :]
    nearest: str | None = None
    for match in _CONTEXT.finditer(window):
        nearest = match.lastgroup
        distance = len(window) - match.end()
    if nearest == "other" and distance > 16:
        return None
    return nearest


def _shape(groups: list[_Group]) -> tuple[int, ...]:
    return tuple(len(g.digits) for g in groups)


def _by_context(groups: list[_Group], context: str | None) -> tuple[Kind, str] | None:
    """The kind a context word names, if the digits have its length.

    Typos in check digits are common, so the word alone is enough.
    """
    digits = "".join(g.digits for g in groups)
    n = len(digits)
    if context == "snils" and n == 11:
        return Kind.SNILS, digits
    if context == "inn" and n in (10, 12):
        return Kind.INN, digits
    if context == "passport" and n == 10:
        return Kind.PASSPORT, digits
    if context == "oms" and n == 16:
        return Kind.OMS, digits
    if context == "card" and 13 <= n <= 19 and luhn_valid(digits):
        return Kind.CARD, digits
    return None


def _classify(
    groups: list[_Group], plus: bool, context: str | None
) -> tuple[Kind, str] | None:
    """Kind and key of the digits in ``groups``, or None if none applies."""
    digits = "".join(g.digits for g in groups)
    n = len(digits)
    shape = _shape(groups)

    by_context = _by_context(groups, context)
    if by_context is not None:
        return by_context

    phone = phone_key(digits, plus) if context != "other" or plus else None
    if plus and phone:
        return Kind.PHONE, phone

    if 13 <= n <= 19:
        if n == 16 and oms_valid(digits) and not luhn_valid(digits):
            return Kind.OMS, digits
        if luhn_valid(digits):
            return Kind.CARD, digits
        return None
    if n == 12:
        return (Kind.INN, digits) if inn_valid(digits) else None
    if n == 11:
        if shape == (3, 3, 3, 2) and snils_valid(digits):
            return Kind.SNILS, digits
        russian = phone is not None and phone[2] in "3489"
        if phone and (russian or not snils_valid(digits)):
            return Kind.PHONE, phone
        if snils_valid(digits):
            return Kind.SNILS, digits
        return None
    if n == 10:
        if shape in ((2, 2, 6), (4, 6)):
            return Kind.PASSPORT, digits
        if phone:
            return Kind.PHONE, phone
        if inn_valid(digits):
            return Kind.INN, digits
        return None
    if n == 7 and context == "phone" and shape in ((3, 2, 2), (7,), (3, 4)):
        return Kind.PHONE, digits
    return None


def _parse_date(day: str, month: str, year: str) -> str | None:
    """ISO form of a calendar date, or None if it is not one."""
    if month.isdigit():
        month_number = int(month)
    else:
        lowered = month.lower()
        month_number = next(
            (n for p, n in _MONTH_NUMBER.items() if lowered.startswith(p)), 0
        )
    full_year = int(year) if len(year) == 4 else 1900 + int(year)
    if len(year) == 2 and int(year) < 30:
        full_year += 100
    try:
        return date(full_year, month_number, int(day)).isoformat()
    except ValueError:
        return None


def _dates(text: str) -> tuple[list[Span], list[tuple[int, int]]]:
    """Birth dates, and the places of all other dates (never numbers)."""
    births: list[Span] = []
    other: list[tuple[int, int]] = []
    for pattern in (_DATE_WORDS, _DATE_NUMERIC, _DATE_ISO):
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in other) or any(
                b.start < m.end() and m.start() < b.end for b in births
            ):
                continue
            iso = _parse_date(m["d"], m["m"], m["y"])
            if iso is None:
                continue
            before = text[max(0, m.start() - _WINDOW) : m.start()]
            after = text[m.end() : m.end() + 20]
            if _BIRTH_BEFORE.search(before) or _BIRTH_AFTER.search(after):
                births.append(Span(m.start(), m.end(), Kind.BIRTH_DATE, m[0], iso))
            else:
                other.append((m.start(), m.end()))
    for m in _YEAR_OF_BIRTH.finditer(text):
        if not any(s < m.end() and m.start() < e for s, e in other):
            births.append(Span(m.start(), m.end(), Kind.BIRTH_DATE, m[0], m["y"]))
    return births, other


def find_numbers(text: str) -> list[Span]:
    """All digit-based spans in ``text``, not overlapping one another."""
    spans, taken = _dates(text)
    taken = taken + [(s.start, s.end) for s in spans]

    for m in _PASSPORT_WORDS.finditer(text):
        key = re.sub(r"\D", "", m["series"]) + m["number"]
        start, end = m.start("series"), m.end("number")
        spans.append(Span(start, end, Kind.PASSPORT, text[start:end], key))
        taken.append((start, end))
    for m in _DIVISION_CODE.finditer(text):
        start, end = m.start("code"), m.end("code")
        code = m["code"].replace("-", "")
        spans.append(Span(start, end, Kind.PASSPORT, text[start:end], code))
        taken.append((start, end))

    floor = 0
    for chain in _CHAIN.finditer(text):
        groups = [
            _Group(chain.start() + g.start(), chain.start() + g.end(), g[0])
            for g in _GROUP.finditer(chain[0])
        ]
        groups = [
            g for g in groups if not any(s < g.end and g.start < e for s, e in taken)
        ]
        if groups:
            spans.extend(_split_chain(text, groups, chain[0].startswith("+"), floor))
        floor = chain.end()
    return sorted(spans, key=lambda s: s.start)


def _split_chain(text: str, groups: list[_Group], plus: bool, floor: int) -> list[Span]:
    """Leftmost-longest classification of the groups of one digit chain."""
    found: list[Span] = []
    claimed = [False] * len(groups)
    i = 0
    while i < len(groups):
        hit = None
        context = _context(text, groups[i].start, floor)
        # The kind a context word names wins over a longer reading.
        if context is not None and context not in ("other", "phone"):
            for j in range(i, min(len(groups), i + _MAX_DIGITS)):
                result = _by_context(groups[i : j + 1], context)
                if result is not None:
                    hit = (j, result)
                    break
        # No identifier has more than 19 digits, so no more groups than that.
        for j in range(min(len(groups), i + _MAX_DIGITS) - 1, i - 1, -1):
            if hit is not None:
                break
            if sum(len(g.digits) for g in groups[i : j + 1]) > _MAX_DIGITS:
                continue
            result = _classify(groups[i : j + 1], plus and i == 0, context)
            if result is not None:
                hit = (j, result)
                break
        if hit is None:
            i += 1
            continue
        j, (kind, key) = hit
        start = groups[i].start
        before = text[start - 1 : start]
        if (plus and i == 0 and before == "+") or (
            before == "(" and kind is Kind.PHONE
        ):
            start -= 1
        end = groups[j].end
        found.append(Span(start, end, kind, text[start:end], key))
        for k in range(i, j + 1):
            claimed[k] = True
        floor = end
        i = j + 1

    # Leakage first: unclaimed runs of ten or more digits are masked anyway.
    run: list[_Group] = []
    for group, is_claimed in [*zip(groups, claimed, strict=True), (None, True)]:
        if group is not None and not is_claimed:
            run.append(group)
            continue
        if sum(len(g.digits) for g in run) >= 10:
            start, end = run[0].start, run[-1].end
            digits = "".join(g.digits for g in run)
            found.append(Span(start, end, Kind.NUMBER, text[start:end], digits))
        run = []
    return found

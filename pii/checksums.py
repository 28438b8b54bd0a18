"""Check digits of Russian identifiers and bank cards."""

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11_WEIGHTS = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def snils_check(first_nine: str) -> str:
    """The two control digits for the first nine digits of a SNILS."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(9, 0, -1), strict=True))
    if total > 101:
        total %= 101
    if total in (100, 101):
        total = 0
    return f"{total:02d}"


def snils_valid(digits: str) -> bool:
    """SNILS checksum; defined only above 001-001-998."""
    if len(digits) != 11 or not digits.isdigit():
        return False
    if int(digits[:9]) <= 1001998:
        return False
    return snils_check(digits[:9]) == digits[9:]


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_valid(digits: str) -> bool:
    """INN of an organisation (10 digits) or of a person (12 digits)."""
    if not digits.isdigit():
        return False
    if len(digits) == 10:
        return _weighted(digits, _INN10_WEIGHTS) == int(digits[9])
    if len(digits) == 12:
        return _weighted(digits, _INN11_WEIGHTS) == int(digits[10]) and _weighted(
            digits, _INN12_WEIGHTS
        ) == int(digits[11])
    return False


def luhn_valid(digits: str) -> bool:
    """The Luhn check used by bank cards."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def oms_check(first_fifteen: str) -> int:
    """Control digit of a single-format OMS policy number (ENP).

    Odd-position digits read right to left form a number that is doubled;
    the even-position digits, right to left, are written before it; the
    control digit tops the digit sum up to a multiple of ten.
    """
    odd = first_fifteen[0::2][::-1]
    even = first_fifteen[1::2][::-1]
    combined = even + str(int(odd) * 2)
    return (10 - sum(int(d) for d in combined) % 10) % 10


def oms_valid(digits: str) -> bool:
    """Whether 16 digits carry a correct ENP control digit."""
    if len(digits) != 16 or not digits.isdigit():
        return False
    return oms_check(digits[:15]) == int(digits[15])

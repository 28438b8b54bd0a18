"""Russian phone numbers: validity and the canonical E.164 key."""

from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=4096)
def phone_key(digits: str, plus: bool) -> str | None:
    """E.164 for a digit string if it is a valid number, else None.

    Russian writings are read with the national conventions: a leading 8 or 7
    before ten digits is the trunk or country prefix, ten bare digits are a
    national number. Other countries are accepted only with a written "+".
    """
    if plus and not digits.startswith("7"):
        candidate = "+" + digits
    elif len(digits) == 11 and digits[0] in "78":
        candidate = "+7" + digits[1:]
    elif len(digits) == 10 and digits[0] in "3489":
        candidate = "+7" + digits
    else:
        return None
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(text: str) -> str | None:
    """E.164 form of one phone number as people write it, or None."""
    digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    return phone_key(digits, text.lstrip().startswith("+"))

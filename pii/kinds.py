"""What a detector reports: the kind of personal data and where it is."""

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """Kinds of personal data; the value is the placeholder label."""

    PERSON = "ИМЯ"
    PHONE = "ТЕЛЕФОН"
    EMAIL = "EMAIL"
    SNILS = "СНИЛС"
    INN = "ИНН"
    PASSPORT = "ПАСПОРТ"
    CARD = "КАРТА"
    OMS = "ПОЛИС"
    BIRTH_DATE = "ДАТА_РОЖДЕНИЯ"
    ADDRESS = "АДРЕС"
    # A run of ten or more digits nobody claimed: masked because leaking an
    # unrecognised identifier is worse than hiding an order number.
    NUMBER = "НОМЕР"


@dataclass(frozen=True, slots=True)
class Span:
    """One detected piece of personal data.

    ``value`` is the text as written; ``normal`` is the key that makes two
    writings of the same datum one entity (E.164 for phones, digits for
    identifiers, nominative name forms for persons).
    """

    start: int
    end: int
    kind: Kind
    value: str
    normal: str

"""Russian personal-data detection and reversible pseudonymisation.

Plain Python with no Django imports, so the AI gateway, the Celery workers
and the evaluation share one implementation.

Use::

    from pii import Mapping, Pseudonymiser, detect

    detect("тел. 8 (900) 123-45-67")     # one Span, Kind.PHONE, "+79001234567"
    p = Pseudonymiser()                  # one per dialog
    sent = p.pseudonymise("Я Анна Смирнова")           # "Я [ИМЯ_1]"
    p.restore("Здравствуйте, [ИМЯ_1]!")                # the original writing back
    stored = p.mapping.to_json()         # personal data: store it encrypted
    p = Pseudonymiser(Mapping.from_json(stored))
    restorer = p.stream_restorer()       # answers arriving in chunks
    out = restorer.feed(chunk) ... + restorer.close()

Placeholders are ``[<LABEL>_<n>]``, numbered per kind within a dialog:
ИМЯ, ТЕЛЕФОН, EMAIL, СНИЛС, ИНН, ПАСПОРТ, КАРТА, ПОЛИС, ДАТА_РОЖДЕНИЯ, АДРЕС,
and НОМЕР for an unrecognised run of ten or more digits. One entity keeps one
placeholder across messages: a person is keyed by first name, surname and
patronymic in the nominative with their gender, a phone by E.164, an
identifier by its digits. Restoring puts back the writing that stood in the
same surroundings, otherwise (for names) the nominative form inflected for a
preceding preposition. Mangled or unknown placeholders are left as they are.

Known limits: text that already contains a string shaped like a placeholder
("[ИМЯ_1]") is restored as if we had written it; the model cannot tell such
text from ours.
"""

from pii.detect import detect
from pii.kinds import Kind, Span
from pii.mapping import Mapping, Pseudonymiser, StreamRestorer
from pii.phones import normalize_phone

__all__ = [
    "Kind",
    "Mapping",
    "Pseudonymiser",
    "Span",
    "StreamRestorer",
    "detect",
    "normalize_phone",
]

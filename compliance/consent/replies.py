"""Reading a client's free-form chat answer to the consent question.

A reply counts as consent only when every word in it belongs to the small
vocabulary of agreement (and filler such as «ну»); anything else — a
condition, a question, a hesitation — is *unclear*, and unclear is never
read as yes. 152-FZ art. 9 requires consent to be specific and unambiguous.
"""

import enum
import re

_BB_TAG = re.compile(r"\[/?[a-z]+(?:=[^\]]*)?\]", re.IGNORECASE)
# Bitrix24 open lines may prefix a quoted message with "[b]Author:[/b][br]".
_AUTHOR_PREFIX = re.compile(r"^\s*\[b\][^\[\]]{1,80}:\[/b\]\s*(?:\[br\])?", re.I)
_WORD = re.compile(r"[а-яa-z0-9]+|👍|👎|\+")

YES_WORDS = frozenset(
    "да ага угу конечно согласен согласна согласны согласие согласная даю "
    "разрешаю подтверждаю принимаю ок окей ok okay хорошо yes + 👍 давайте "
    "можно".split()
)
NO_WORDS = frozenset(
    "нет неа против отказываюсь отказ запрещаю не no 👎 несогласен несогласна".split()
)
FILLER = frozenset("ну вот же так спасибо пожалуйста ладно и я тогда уж".split())
NEGATION = "не"

_WITHDRAWAL = re.compile(
    r"отзыва\w*\s+(?:\w+\s+){0,2}согласи"
    r"|отозва\w*\s+(?:\w+\s+){0,2}согласи"
    r"|удал\w*\s+(?:\w+\s+){0,2}(?:мои|мою|мой|моих)?\s*(?:персональн\w+\s+)?"
    r"(?:данн|информац|номер|телефон|контакт)"
    r"|не\s+(?:обрабатывайте|храните|используйте)\s+(?:\w+\s+){0,2}данн"
    r"|прекрат\w*\s+обработк"
    r"|забудьте\s+(?:меня|мои)",
    re.IGNORECASE,
)


class Reply(enum.StrEnum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


def plain_text(message: str) -> str:
    """The message without the author prefix and BB-codes, in lower case, ё as е."""
    text = _AUTHOR_PREFIX.sub("", message)
    text = _BB_TAG.sub(" ", text)
    return text.lower().replace("ё", "е")


def classify_reply(message: str) -> Reply:
    """Yes, no or unclear, for an answer to a consent question."""
    words = _WORD.findall(plain_text(message))
    if not words:
        return Reply.UNCLEAR

    saw_yes = saw_no = False
    negate_next = False
    for word in words:
        if word == NEGATION:
            negate_next = True
            continue
        if word in YES_WORDS:
            # «не согласна» refuses.
            saw_no, saw_yes = saw_no or negate_next, saw_yes or not negate_next
        elif word in NO_WORDS:
            # «не против» agrees.
            saw_yes, saw_no = saw_yes or negate_next, saw_no or not negate_next
        elif word not in FILLER:
            return Reply.UNCLEAR
        negate_next = False

    if negate_next and not (saw_yes or saw_no):
        return Reply.UNCLEAR
    if saw_no and not saw_yes:
        return Reply.NO
    if saw_yes and not saw_no:
        return Reply.YES
    return Reply.UNCLEAR


def is_withdrawal(message: str) -> bool:
    """Whether the client withdraws consent or asks to delete their data."""
    words = " ".join(_WORD.findall(plain_text(message)))
    return bool(_WITHDRAWAL.search(words))

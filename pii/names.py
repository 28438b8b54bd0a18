"""Person names: natasha NER united with pymorphy3 name grammemes.

natasha finds capitalised names in context but almost none in lower case;
the pymorphy3 dictionary knows first names, surnames and patronymics in
every case regardless of capitals. A word the dictionary only *may* read as
a name (``Вера``, ``Надежда``, ``Любовь``) needs support: a neighbouring
name, natasha, or a cue such as "зовут".
"""

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pii.kinds import Kind, Span

_NAME_GRAMMEMES = frozenset({"Name", "Surn", "Patr"})
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?")
_CYRILLIC = re.compile(r"[а-яё]")
_CUE = re.compile(
    r"(?<!\w)(?:зовут|звать|имя|я|это|уважением|фио|клиент\w*|пациент\w*|врач\w*"
    r"|мастер\w*|для|от|у|к|с)[\s,:—-]*$",
    re.IGNORECASE,
)

# Names that are first of all ordinary words; they need support to count.
_AMBIGUOUS = frozenset(
    {
        "вера", "веры", "вере", "веру", "верой",
        "надежда", "надежды", "надежде", "надежду", "надеждой",
        "любовь", "любови", "любовью",
        "роза", "розы", "розу", "розе", "лилия", "лилии", "слава", "славы",
        "лада", "марка", "ник", "роман", "романа", "лев", "льва", "виктория",
        "победа", "мир", "мира", "том", "тома", "майя", "март", "марта",
        "ленина", "муза", "заря", "ангел", "мороз", "орел", "орёл", "сокол",
        "волк",
    }
)  # fmt: skip
# Words that look like names to the dictionary but almost never are one in
# a chat with a business.
_NEVER = frozenset(
    {
        "добрый", "спасибо", "здравствуйте", "привет", "доброе", "пожалуйста",
        "карта", "карты", "заказ", "полис", "паспорт", "снилс", "инн", "тел",
        "ул", "д", "кв", "г", "пр", "москва", "москвы", "россия", "россии",
        "сумма", "руб", "имя", "дата", "день", "да", "нет", "ок", "пасп",
        "ватсап", "вотсап", "ватсапп", "же", "бы", "вайбер", "телеграм",
        "телеграмм",
        "whatsapp", "viber", "telegram", "вопрос", "речь", "запись", "адрес",
        "почта", "мастер", "врач", "доктор", "администратор", "менеджер",
    }
)  # fmt: skip
_NAME_PARTICLES = frozenset(
    {
        "ле",
        "ла",
        "де",
        "ди",
        "да",
        "дю",
        "дер",
        "ван",
        "фон",
        "бин",
        "ибн",
        "эль",
        "аль",
    }
)
_STRONG = 0.5
_LONGEST_NAME = 40
_WEAK = 0.2


@dataclass(frozen=True, slots=True)
class _Word:
    start: int
    end: int
    text: str
    mass: float
    known: bool


_lock = threading.Lock()
_models: dict[str, Any] = {}


def morph() -> Any:
    """The shared pymorphy3 analyzer, loaded once."""
    with _lock:
        if "morph" not in _models:
            import pymorphy3

            _models["morph"] = pymorphy3.MorphAnalyzer()
        return _models["morph"]


def _ner() -> tuple[Any, Any]:
    """natasha's segmenter and NER tagger, loaded once."""
    with _lock:
        if "ner" not in _models:
            from natasha import NewsEmbedding, NewsNERTagger, Segmenter

            _models["segmenter"] = Segmenter()
            _models["ner"] = NewsNERTagger(NewsEmbedding())
        return _models["segmenter"], _models["ner"]


def warm_up() -> None:
    """Load the models now rather than on the first message."""
    morph()
    _ner()


@lru_cache(maxsize=65536)
def parses(word: str) -> tuple[Any, ...]:
    """pymorphy3 parses of a lower-case word, cached."""
    return tuple(morph().parse(word))


@lru_cache(maxsize=65536)
def name_mass(word: str) -> tuple[float, bool]:
    """Score mass of name-like parses, and whether the word is in the dictionary."""
    found = parses(word)
    mass = sum(p.score for p in found if _NAME_GRAMMEMES & p.tag.grammemes)
    known = any(p.is_known for p in found)
    return mass, known


def _words(text: str) -> list[_Word]:
    words = []
    for m in _WORD.finditer(text):
        lowered = m[0].lower()
        cyrillic = bool(_CYRILLIC.search(lowered))
        if (
            lowered.replace("ё", "е") in _NEVER
            or not 2 <= len(lowered) <= _LONGEST_NAME
            or not cyrillic
        ):
            mass, known = 0.0, cyrillic
        else:
            # pymorphy3 reads ё itself: "семёна" is a name, "семена" are seeds.
            mass, known = name_mass(lowered)
        words.append(_Word(m.start(), m.end(), m[0], mass, known))
    return words


def _truecase(text: str, words: list[_Word]) -> str:
    """Capitalise words that may be names, for a text typed in lower case.

    natasha relies on capitals; in a lower-case message it finds almost no
    names, so it is shown a copy where dictionary names and unknown words
    start with a capital letter.
    """
    chars = list(text)
    for w in words:
        if w.text[0].islower() and (w.mass > 0 or not w.known) and len(w.text) > 2:
            chars[w.start] = chars[w.start].upper()
    return "".join(chars)


def _typed_in_lower_case(text: str, words: list[_Word]) -> bool:
    """No capital letter anywhere except where a sentence starts."""
    for w in words:
        if w.text[0].isupper() and not re.search(
            r"(?:^|[.!?…:;\]]\s*|\n\s*|[\"«(]\s*)$", text[max(0, w.start - 4) : w.start]
        ):
            return False
    return True


_FUNCTION_POS = frozenset(
    {
        "VERB", "INFN", "INTJ", "PRCL", "CONJ", "PREP", "ADVB", "PRED", "NPRO",
        "GRND", "PRTF", "PRTS", "ADJS", "COMP", "NUMR",
    }
)  # fmt: skip


def _plain_word(word: str) -> bool:
    """A known word that is not a noun or adjective: never part of a name."""
    found = parses(word.lower())
    return bool(found) and found[0].is_known and found[0].tag.POS in _FUNCTION_POS


def _ner_spans(text: str) -> list[tuple[int, int]]:
    from natasha import Doc

    segmenter, tagger = _ner()
    doc = Doc(text)
    doc.segment(segmenter)
    doc.tag_ner(tagger)
    return [(s.start, s.stop) for s in doc.spans if s.type == "PER"]


def _before(text: str, start: int) -> str:
    """The few characters before ``start``: cue words sit right there."""
    return text[max(0, start - 24) : start]


def _sentence_initial(text: str, start: int) -> bool:
    """Whether a word at ``start`` opens the text, a sentence or a line."""
    i = start
    while i > 0 and text[i - 1] in " \t\u00a0":
        i -= 1
    return i == 0 or text[i - 1] in ".!?…\n"


def _adjacent(text: str, left: _Word, right: _Word) -> bool:
    gap = text[left.end : right.start]
    return len(gap) <= 2 and gap.strip(" \u00a0-") == ""


def find_names(text: str, blocked: list[tuple[int, int]]) -> list[Span]:
    """Person-name spans in ``text`` outside the ``blocked`` ranges."""
    words = [
        w
        for w in _words(text)
        if not any(s < w.end and w.start < e for s, e in blocked)
    ]
    if not words:
        return []

    def lowered(w: _Word) -> str:
        return w.text.lower().replace("ё", "е")

    plain = [w.mass > 0 and _plain_word(w.text) for w in words]
    strong = [
        w.mass >= _STRONG and w.known and lowered(w) not in _AMBIGUOUS and not plain[i]
        for i, w in enumerate(words)
    ]
    weak = [
        not plain[i]
        and (
            w.mass >= _WEAK or (not w.known and w.mass > 0) or lowered(w) in _AMBIGUOUS
        )
        for i, w in enumerate(words)
    ]
    lower_case = _typed_in_lower_case(text, words)

    def uncertain(i: int) -> bool:
        """Whether the dictionary alone cannot settle this word."""
        w = words[i]
        if strong[i] or lowered(w) in _NEVER or len(w.text) < 2:
            return False
        if weak[i] and any(
            0 <= j < len(words)
            and strong[j]
            and _adjacent(text, *sorted((w, words[j]), key=lambda x: x.start))
            for j in (i - 1, i + 1)
        ):
            return False
        if w.known and _plain_word(w.text):
            return False
        if lower_case:
            return weak[i] or (not w.known and len(w.text) > 2)
        if not w.text[0].isupper():
            return False
        if _sentence_initial(text, w.start):
            return weak[i] or not w.known
        return True

    # natasha costs a hundred times the rest; it runs only when some word
    # may be a name that the dictionary cannot settle.
    ner: list[tuple[int, int]] = []
    if any(uncertain(i) for i in range(len(words))):
        ner = _ner_spans(_truecase(text, words) if lower_case else text)

    def in_ner(w: _Word) -> bool:
        return any(s <= w.start and w.end <= e for s, e in ner)

    accepted = list(strong)
    for i, w in enumerate(words):
        if accepted[i]:
            continue
        alone = not any(
            s <= w.start and w.end <= e and (s < w.start or w.end < e) for s, e in ner
        )
        if (
            in_ner(w)
            # Initials are added around whole names later.
            and len(w.text) > 1
            and lowered(w) not in _NEVER
            # "Ле" in "Марин Ле Пен" is a particle, but part of the name.
            and (
                not _plain_word(w.text)
                or (w.text[0].isupper() and not alone and len(w.text) <= 3)
            )
            and not (lowered(w) in _AMBIGUOUS and _CUE.search(_before(text, w.start)))
        ):
            # natasha reads any capitalised first word as a possible name;
            # for "Вера в успех" that is wrong, so such words need more.
            initial = _sentence_initial(text, w.start)
            if lowered(w) in _AMBIGUOUS:
                # "Вера" is as likely faith as a woman: a neighbouring name
                # or a cue decides; natasha only in mid-sentence right after
                # a verb or preposition ("Позовите Веру", "у Любови").
                accepted[i] = (
                    not initial
                    and not lower_case
                    and i > 0
                    and words[i - 1].end >= w.start - 2
                    and parses(words[i - 1].text.lower())[0].tag.POS in ("VERB", "PREP")
                )
            elif w.known and w.mass == 0:
                # A capitalised common noun in the nominative opening a
                # sentence ("Вопрос о…") or naming a number ("Артикул 725374")
                # is a word; an oblique form ("Шумов первым…") may be a name.
                nominative = any(p.tag.case == "nomn" for p in parses(w.text.lower()))
                before_number = re.match(r"\s*№?\s*\d", text[w.end : w.end + 4])
                accepted[i] = not nominative or not (
                    (initial and alone) or before_number
                )
            else:
                accepted[i] = True
        elif weak[i] and w.text[0].isupper() and _CUE.search(_before(text, w.start)):
            accepted[i] = lowered(w) not in _AMBIGUOUS or bool(
                re.search(
                    r"(?:зовут|звать|имя|я|это)[\s,:—-]*$", _before(text, w.start)
                )
            )
        elif (
            not w.known
            and w.mass >= _STRONG
            and w.text[0].isupper()
            and not lower_case
            and not _sentence_initial(text, w.start)
        ):
            # An unknown capitalised word the dictionary predicts to be a
            # name or surname, in mid-sentence: "…сказал Видениус".
            accepted[i] = True
    # A weak word next to an accepted one joins it ("Вера Ивановна").
    changed = True
    while changed:
        changed = False
        for i, w in enumerate(words):
            if accepted[i] or not weak[i]:
                continue
            left = i > 0 and accepted[i - 1] and _adjacent(text, words[i - 1], w)
            right = (
                i + 1 < len(words)
                and accepted[i + 1]
                and _adjacent(text, w, words[i + 1])
                and (strong[i + 1] or in_ner(words[i + 1]))
            )
            if left or right:
                accepted[i] = changed = True

    # A surname the dictionary does not know as one, right after a first
    # name and in the same case: "юрию долгорукому", "виктор понедельник".
    for i in range(len(words) - 1):
        nxt = words[i + 1]
        if (
            accepted[i]
            and not accepted[i + 1]
            and _adjacent(text, words[i], nxt)
            and not _plain_word(nxt.text)
            and len(nxt.text) > 2
            and lowered(nxt) not in _NEVER
            and lowered(nxt) not in _AMBIGUOUS
            and (
                _agrees_as_surname(lowered(words[i]), nxt.text.lower())
                or _SURNAME_ENDING.search(lowered(nxt)) is not None
            )
            and any("Name" in p.tag.grammemes for p in parses(words[i].text.lower()))
        ):
            accepted[i + 1] = True

    # Two capitalised words the dictionary does not know, side by side, are
    # most often a foreign name ("Коффи Коджа").
    if not lower_case:
        for i in range(len(words) - 1):
            a, b = words[i], words[i + 1]
            if (
                not a.known
                and not b.known
                and a.text[0].isupper()
                and b.text[0].isupper()
                and _CYRILLIC.search(a.text.lower())
                and _CYRILLIC.search(b.text.lower())
                and _adjacent(text, a, b)
            ):
                accepted[i] = accepted[i + 1] = True

    # Particles of foreign names ("марин ле пен", "усамы бин ладена") carry
    # the following word into the name.
    for i in range(len(words) - 2):
        if (
            accepted[i]
            and lowered(words[i + 1]) in _NAME_PARTICLES
            and _adjacent(text, words[i], words[i + 1])
            and _adjacent(text, words[i + 1], words[i + 2])
            and not _plain_word(words[i + 2].text)
            and lowered(words[i + 2]) not in _NEVER
        ):
            accepted[i + 1] = accepted[i + 2] = True

    spans: list[Span] = []
    current: list[_Word] = []
    candidates: list[_Word | None] = [*words, None]
    for i, candidate in enumerate(candidates):
        if candidate is not None and accepted[i]:
            if current and not _adjacent(text, current[-1], candidate):
                spans.append(_person(text, current))
                current = []
            current.append(candidate)
            continue
        if current:
            spans.append(_person(text, current))
            current = []
    return _with_initials(text, spans) + _bare_initials(text, blocked)


_SURNAME_ENDING = re.compile(
    r"(?:[оеё]в|[ыи]н|ск(?:ий|ая|ого|ой|ому|им|ую)|цк(?:ий|ая)|енко|[юу]к|[ыи]х"
    r"|ян|дзе|швили|ец|ич)(?:а|у|ым|ом|е|ой|ым)?$"
)


def _agrees_as_surname(first: str, word: str) -> bool:
    """Whether ``word`` can be a noun in the case of the first name ``first``."""
    cases = {
        p.tag.case
        for p in parses(first)
        if "Name" in p.tag.grammemes and p.score >= 0.1 and p.tag.number != "plur"
    }
    if not cases:
        return False
    found = parses(word)
    if found and found[0].tag.POS not in ("NOUN", "ADJF", None):
        return False
    return any(
        p.tag.POS in ("NOUN", "ADJF", None) and p.tag.case in cases
        for p in found
        if p.tag.number != "plur"
    ) or not any(p.is_known for p in found)


_BARE_INITIALS = re.compile(r"(?<![\w.])[А-ЯЁ]\.\s?[А-ЯЁ]\.(?![\w.])")


def _bare_initials(text: str, blocked: list[tuple[int, int]]) -> list[Span]:
    """Initials standing alone ("подпись: В.Л.") identify a person too."""
    found = []
    for m in _BARE_INITIALS.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in blocked):
            continue
        found.append(Span(m.start(), m.end(), Kind.PERSON, m[0], m[0].lower()))
    return found


def _with_initials(text: str, spans: list[Span]) -> list[Span]:
    """Extend name spans over initials written right before or after them."""
    result: list[Span] = []
    for span in spans:
        start, end = span.start, span.end
        before = re.search(
            r"(?<![\w.])(?:[А-ЯЁа-яё]\.\s?){1,2}\s?$", text[max(0, start - 7) : start]
        )
        if before:
            start -= len(before[0])
        after = re.match(r"\s?(?:[А-ЯЁ]\.\s?){0,1}[А-ЯЁ]\.", text[end : end + 6])
        if after:
            end += len(after[0].rstrip())
        if result and result[-1].end > start:
            # Two names glued by initials become one span, never two overlapping.
            start = result.pop().start
        result.append(Span(start, end, Kind.PERSON, text[start:end], span.normal))
    return result


def _person(text: str, words: list[_Word]) -> Span:
    start, end = words[0].start, words[-1].end
    return Span(start, end, Kind.PERSON, text[start:end], normal_name(text[start:end]))


_GENDERS = ("masc", "femn")
_CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct", "voct")


def _fixed_alternative(word: str) -> str | None:
    """Nominative of an indeclinable-looking form such as "Анне" -> "анна"."""
    for suffix, replacement in (("е", "а"), ("и", "а"), ("и", "я"), ("е", "я")):
        if not word.endswith(suffix):
            continue
        candidate = word[: -len(suffix)] + replacement
        for p in parses(candidate):
            if "Name" in p.tag.grammemes and p.tag.case == "nomn" and p.is_known:
                return candidate
    return None


def name_parts(text: str) -> list[tuple[str, list[str]]]:
    """Each word's role (first, last, patr) and candidate nominative forms."""
    return [(role, forms) for role, forms in _analyse(text)]


def name_forms(text: str) -> list[list[str]]:
    """Candidate nominative forms of each word of a name, best first."""
    return [forms for _, forms in _analyse(text)]


@lru_cache(maxsize=8192)
def _analyse(text: str) -> tuple[tuple[str, list[str]], ...]:
    """Candidate nominative forms of each word of a name, best first.

    All words are read in one gender and one case, the combination the
    dictionary likes best, so "Ивану Петрову" becomes "иван петров" and
    "Анне Смирновой" becomes "анна смирнова".
    """
    tokens = [t.lower() for t in _WORD.findall(text)]
    options = [
        [p for p in parses(t) if _NAME_GRAMMEMES & p.tag.grammemes] for t in tokens
    ]

    best: tuple[float, str, str] | None = None
    for gender in _GENDERS:
        for case in _CASES:
            total = 0.0
            for opts in options:
                fits = [
                    p.score
                    for p in opts
                    if p.tag.grammemes & {gender, "ms-f"}
                    and (p.tag.case == case or "Fixd" in p.tag.grammemes)
                    and p.tag.number != "plur"
                ]
                total += max(fits, default=0.0) + (0.0 if opts else 0.001)
            if best is None or total > best[0]:
                best = (total, gender, case)
    assert best is not None
    _, gender, case = best

    result: list[tuple[str, list[str]]] = []
    for token, opts in zip(tokens, options, strict=True):
        forms: list[str] = []
        fitting = sorted(
            (
                p
                for p in opts
                if p.tag.grammemes & {gender, "ms-f"}
                and (p.tag.case == case or "Fixd" in p.tag.grammemes)
            ),
            key=lambda p: -p.score,
        )
        for p in fitting + sorted(opts, key=lambda p: -p.score):
            nominative = _nominative(p, token)
            if nominative not in forms:
                forms.append(nominative)
        if not forms:
            forms.append(token.replace("ё", "е"))
        lead = fitting[0] if fitting else (opts[0] if opts else None)
        role = "last"
        if lead is not None and "Patr" in lead.tag.grammemes:
            role = "patr"
        elif lead is not None and "Name" in lead.tag.grammemes:
            role = "first"
        result.append((role, forms))
    return tuple(result)


def _nominative(parse: Any, token: str) -> str:
    if "Fixd" in parse.tag.grammemes:
        alternative = _fixed_alternative(token)
        if alternative:
            return alternative
    inflected = parse.inflect({"nomn", "sing"})
    word = inflected.word if inflected is not None else parse.normal_form
    return str(word).replace("ё", "е")


def normal_name(text: str) -> str:
    """The gender-preserving nominative key of a name: "анна смирнова"."""
    return " ".join(forms[0] for forms in name_forms(text))


def inflect_name(text: str, case: str) -> str | None:
    """``text`` (a name in the nominative) put into ``case``, keeping capitals."""
    words = _WORD.findall(text)
    out = []
    for word, forms in zip(words, name_forms(text), strict=True):
        target = None
        for p in parses(forms[0]):
            if _NAME_GRAMMEMES & p.tag.grammemes and p.tag.case == "nomn":
                target = p.inflect({case, "sing"})
                if target is not None:
                    break
        if target is None:
            return None
        new = str(target.word)
        out.append(new.capitalize() if word[:1].isupper() else new)
    replacements = iter(out)
    return _WORD.sub(lambda _: next(replacements), text)

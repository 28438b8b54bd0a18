"""Typed placeholders that stay stable within a dialog, and exact restoring.

Placeholders read ``[ИМЯ_1]``, ``[ТЕЛЕФОН_2]``, ``[EMAIL_1]``, ``[СНИЛС_1]``,
``[ИНН_1]``, ``[ПАСПОРТ_1]``, ``[КАРТА_1]``, ``[ПОЛИС_1]``,
``[ДАТА_РОЖДЕНИЯ_1]``, ``[АДРЕС_1]`` and ``[НОМЕР_1]``; numbering is per kind
and per dialog. One entity may be written several ways ("Анне Смирновой",
"Анна Смирнова"; "8 (900)…", "+7 900…"). Each writing is kept with the text
around the placeholder it replaced, so restoring puts back the writing whose
surroundings match — exact for the text that was sent — and otherwise the
name in the nominative or the first writing seen.
"""

import json
import re
from dataclasses import dataclass, field

from pii.detect import detect
from pii.kinds import Kind, Span
from pii.names import inflect_name, name_parts

_LABELS = "|".join(k.value for k in Kind)
PLACEHOLDER = re.compile(rf"\[(?P<label>{_LABELS})_(?P<number>[1-9]\d{{0,5}})\]")
# What a placeholder may look like before its closing bracket arrives.
_PARTIAL = re.compile(r"\[(?:[А-ЯЁA-Z_]{0,16}(?:_\d{0,6})?)?")
_MAX_PLACEHOLDER = 24
_CONTEXT = 16
_CONTEXTS_PER_VARIANT = 16
_MIN_CONTEXT_SCORE = 4
_FORMAT_VERSION = 1


@dataclass
class _Variant:
    text: str
    contexts: list[tuple[str, str]] = field(default_factory=list)
    seen: int = 0


@dataclass
class _Entity:
    kind: Kind
    number: int
    keys: list[str]
    display: str
    variants: list[_Variant] = field(default_factory=list)
    used: int = 0

    @property
    def placeholder(self) -> str:
        return f"[{self.kind.value}_{self.number}]"

    def variant(self, text: str) -> _Variant:
        for v in self.variants:
            if v.text == text:
                return v
        self.variants.append(_Variant(text))
        return self.variants[-1]


def _common_suffix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


_PREPOSITION_CASE = {
    **dict.fromkeys(
        ("для", "у", "от", "без", "до", "из", "около", "после", "возле", "кроме"),
        "gent",
    ),
    **dict.fromkeys(("к", "ко", "по"), "datv"),
    **dict.fromkeys(("с", "со"), "ablt"),
    **dict.fromkeys(("о", "об", "обо", "при"), "loct"),
    "про": "accs",
    "через": "accs",
}
_LAST_WORD = re.compile(r"(\w+)\s*$")


def _governed_case(left: str) -> str | None:
    """The case the preposition right before a placeholder asks for."""
    match = _LAST_WORD.search(left)
    return _PREPOSITION_CASE.get(match[1].lower()) if match else None


def _display_name(surface: str, normal: str) -> str:
    """The nominative name written with the capitals of its first writing."""
    words = re.findall(r"[А-Яа-яЁё]+(?:-[А-Яа-яЁё]+)?", surface)
    out = []
    for i, word in enumerate(normal.split()):
        capital = words[i][:1].isupper() if i < len(words) else True
        out.append(
            "-".join(p.capitalize() for p in word.split("-")) if capital else word
        )
    return " ".join(out) if out else surface


class Mapping:
    """One dialog's placeholders and what they stand for; JSON-serialisable."""

    def __init__(self) -> None:
        self._entities: list[_Entity] = []
        self._by_placeholder: dict[str, _Entity] = {}
        self._sequence = 0

    def __len__(self) -> int:
        return len(self._entities)

    def entity_for(self, span: Span) -> _Entity:
        """The entity a span belongs to, created on first sight."""
        if span.kind is Kind.PERSON:
            parts = name_parts(span.value)
            found = self._person(parts)
            if found is not None:
                slots = dict(k.split(":", 1) for k in found.keys)
                for role, forms in parts:
                    if role not in slots:
                        found.keys.append(f"{role}:{forms[0]}")
                        slots[role] = forms[0]
                self._used(found)
                return found
            keys, seen = [], set()
            for role, forms in parts:
                if role not in seen:
                    seen.add(role)
                    keys.append(f"{role}:{forms[0]}")
            normal = " ".join(forms[0] for _, forms in parts)
            display = _display_name(span.value, normal)
        else:
            for entity in self._entities:
                if entity.kind is span.kind and span.normal in entity.keys:
                    return entity
            keys, display = [span.normal], span.value

        number = 1 + sum(1 for e in self._entities if e.kind is span.kind)
        entity = _Entity(span.kind, number, keys, display)
        self._entities.append(entity)
        self._by_placeholder[entity.placeholder] = entity
        self._used(entity)
        return entity

    def _used(self, entity: _Entity) -> None:
        self._sequence += 1
        entity.used = self._sequence

    def _person(self, parts: list[tuple[str, list[str]]]) -> _Entity | None:
        """The known person this mention names, by first name, surname, patronymic.

        A mention fits a person when every part both have agrees ("Денису
        Викторовичу" fits "Денис Смирнов"); of several, the one sharing most
        parts and then the one mentioned last is taken.
        """
        best: tuple[int, int, _Entity] | None = None
        for entity in self._entities:
            if entity.kind is not Kind.PERSON:
                continue
            slots = dict(k.split(":", 1) for k in entity.keys)
            shared = 0
            fits = True
            for role, forms in parts:
                if role not in slots:
                    continue
                if slots[role] in forms:
                    shared += 1
                else:
                    fits = False
            if fits and shared:
                candidate = (shared, entity.used, entity)
                if best is None or candidate[:2] > best[:2]:
                    best = candidate
        return best[2] if best else None

    def remember(self, entity: _Entity, value: str, left: str, right: str) -> None:
        """Record that ``value`` was replaced where these contexts surround it."""
        variant = entity.variant(value)
        context = (left[-_CONTEXT:], right[:_CONTEXT])
        # The latest writing in a context wins a tie, so the message just
        # pseudonymised always restores exactly.
        if context in variant.contexts:
            variant.contexts.remove(context)
        variant.contexts.append(context)
        del variant.contexts[:-_CONTEXTS_PER_VARIANT]
        self._sequence += 1
        variant.seen = self._sequence

    def original(self, text: str, start: int, end: int) -> str | None:
        """The writing to put back for the placeholder at ``text[start:end]``."""
        entity = self._by_placeholder.get(text[start:end])
        if entity is None or not entity.variants:
            return None
        left = text[max(0, start - _CONTEXT) : start]
        right = text[end : end + _CONTEXT]
        best_score, best = (-1, -1), entity.variants[0]
        for variant in entity.variants:
            for stored_left, stored_right in variant.contexts:
                score = _common_suffix(left, stored_left) + _common_prefix(
                    right, stored_right
                )
                if (stored_left, stored_right) == (left, right):
                    score += 1000
                if (score, variant.seen) > best_score:
                    best_score, best = (score, variant.seen), variant
        if best_score[0] >= _MIN_CONTEXT_SCORE:
            return best.text
        if entity.kind is not Kind.PERSON:
            return best.text
        # A name in new surroundings: the case a preposition governs, else
        # the nominative.
        case = _governed_case(left)
        if case is not None:
            return inflect_name(entity.display, case) or entity.display
        return entity.display

    def to_json(self) -> str:
        """The mapping as JSON (it holds personal data: store it encrypted)."""
        return json.dumps(
            {
                "version": _FORMAT_VERSION,
                "entities": [
                    {
                        "kind": e.kind.name,
                        "number": e.number,
                        "keys": e.keys,
                        "display": e.display,
                        "used": e.used,
                        "variants": [
                            {
                                "text": v.text,
                                "seen": v.seen,
                                "contexts": [list(c) for c in v.contexts],
                            }
                            for v in e.variants
                        ],
                    }
                    for e in self._entities
                ],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, data: str) -> "Mapping":
        """Read a mapping written by ``to_json``; ValueError if malformed."""
        try:
            raw = json.loads(data)
            if raw.get("version") != _FORMAT_VERSION:
                raise ValueError("unsupported mapping format version")
            mapping = cls()
            for item in raw["entities"]:
                entity = _Entity(
                    kind=Kind[item["kind"]],
                    number=int(item["number"]),
                    keys=[str(k) for k in item["keys"]],
                    display=str(item["display"]),
                    used=int(item["used"]),
                    variants=[
                        _Variant(
                            str(v["text"]),
                            [(str(c[0]), str(c[1])) for c in v["contexts"]],
                            int(v["seen"]),
                        )
                        for v in item["variants"]
                    ],
                )
                if entity.placeholder in mapping._by_placeholder:
                    raise ValueError("duplicate placeholder in mapping")
                mapping._entities.append(entity)
                mapping._by_placeholder[entity.placeholder] = entity
                mapping._sequence = max(
                    [mapping._sequence, entity.used, *(v.seen for v in entity.variants)]
                )
        except (KeyError, TypeError, IndexError, AttributeError) as error:
            raise ValueError("malformed mapping") from error
        except json.JSONDecodeError as error:
            raise ValueError("mapping is not JSON") from error
        return mapping

    def placeholders(self) -> dict[str, list[str]]:
        """Each placeholder with the writings it stands for (for tests and audit)."""
        return {e.placeholder: [v.text for v in e.variants] for e in self._entities}

    def display(self, placeholder: str) -> str | None:
        """The normalised form of a placeholder's entity (a name in the nominative)."""
        entity = self._by_placeholder.get(placeholder)
        return entity.display if entity else None

    def keys(self, placeholder: str) -> list[str]:
        """The keys that identify a placeholder's entity (E.164, digits, name forms)."""
        entity = self._by_placeholder.get(placeholder)
        return list(entity.keys) if entity else []


class Pseudonymiser:
    """Replaces personal data with placeholders and puts it back, per dialog."""

    def __init__(self, mapping: Mapping | None = None) -> None:
        self.mapping = mapping if mapping is not None else Mapping()

    def pseudonymise(self, text: str) -> str:
        """``text`` with every detected datum replaced by its placeholder."""
        return self.pseudonymise_spans(text)[0]

    def pseudonymise_spans(self, text: str) -> tuple[str, list[tuple[Span, str]]]:
        """The pseudonymised text and each replaced span with its placeholder."""
        spans = detect(text)
        pieces: list[str] = []
        placed: list[tuple[int, int, _Entity, str]] = []
        cursor = 0
        length = 0
        for span in spans:
            entity = self.mapping.entity_for(span)
            pieces.append(text[cursor : span.start])
            length += span.start - cursor
            placeholder = entity.placeholder
            placed.append((length, length + len(placeholder), entity, span.value))
            pieces.append(placeholder)
            length += len(placeholder)
            cursor = span.end
        pieces.append(text[cursor:])
        out = "".join(pieces)

        for start, end, entity, value in placed:
            self.mapping.remember(
                entity, value, out[max(0, start - _CONTEXT) : start], out[end:]
            )
        return out, [(s, p[2].placeholder) for s, p in zip(spans, placed, strict=True)]

    def restore(self, text: str) -> str:
        """``text`` with this dialog's placeholders replaced by the originals."""

        def replace(match: re.Match[str]) -> str:
            found = self.mapping.original(text, match.start(), match.end())
            return match[0] if found is None else found

        return PLACEHOLDER.sub(replace, text)

    def stream_restorer(self) -> "StreamRestorer":
        """A restorer for an answer that arrives in chunks."""
        return StreamRestorer(self.mapping)


class StreamRestorer:
    """Restores placeholders in streamed text, even when split across chunks.

    Text is released as soon as it cannot be part of a placeholder; a
    placeholder is released once the text after it (used to pick the right
    writing) has arrived, or at ``close``. The output equals ``restore`` of
    the whole text.
    """

    def __init__(self, mapping: Mapping) -> None:
        self._mapping = mapping
        self._text = ""
        self._pos = 0
        self._closed = False

    def feed(self, chunk: str) -> str:
        """Take the next chunk; return the restored text that is now certain."""
        if self._closed:
            raise ValueError("stream restorer is closed")
        self._text += chunk
        return self._drain()

    def close(self) -> str:
        """End of stream: return everything still held back."""
        self._closed = True
        return self._drain()

    def _drain(self) -> str:
        out: list[str] = []
        text = self._text
        while self._pos < len(text):
            bracket = text.find("[", self._pos)
            if bracket < 0:
                out.append(text[self._pos :])
                self._pos = len(text)
                break
            out.append(text[self._pos : bracket])
            self._pos = bracket
            match = PLACEHOLDER.match(text, bracket)
            if match is not None:
                if not self._closed and len(text) - match.end() < _CONTEXT:
                    break
                found = self._mapping.original(text, match.start(), match.end())
                out.append(match[0] if found is None else found)
                self._pos = match.end()
                continue
            partial = _PARTIAL.fullmatch(text, bracket)
            if (
                partial is not None
                and not self._closed
                and len(text) - bracket <= _MAX_PLACEHOLDER
            ):
                break
            out.append("[")
            self._pos = bracket + 1
        self._trim()
        return "".join(out)

    def _trim(self) -> None:
        # Only the left context of a pending placeholder is ever looked back at.
        keep = max(0, self._pos - _CONTEXT)
        if keep > 4096:
            self._text = self._text[keep:]
            self._pos -= keep

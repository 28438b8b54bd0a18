"""Quality of detection and pseudonymisation: ``python -m pii.evaluate``.

Two sets: factRuEval-2016 (real news text with gold person names, as written
and lowercased to stand in for chat typing) and the generated chat corpus
(labelled by construction). Prints a table and ends with one JSON line.
"""

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pii.detect import detect
from pii.generator import ChatGenerator
from pii.kinds import Kind, Span
from pii.mapping import Pseudonymiser

FACTRU = Path("/work/shared/data/factru-2016-devset")
_TOKEN = re.compile(r"\w+")


def _covered(start: int, end: int, spans: Iterable[Span]) -> bool:
    return any(s.start <= start and end <= s.end for s in spans)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


@dataclass
class _Tally:
    gold: Counter[Kind] = field(default_factory=Counter)
    found: Counter[Kind] = field(default_factory=Counter)
    predicted: Counter[Kind] = field(default_factory=Counter)
    correct: Counter[Kind] = field(default_factory=Counter)
    tokens: Counter[Kind] = field(default_factory=Counter)
    leaked: Counter[Kind] = field(default_factory=Counter)
    plain_tokens: int = 0
    over_masked: int = 0


# -- factRuEval ------------------------------------------------------------


def _factru_documents(root: Path) -> list[tuple[str, list[tuple[int, int]]]]:
    """Each document's text and the character ranges of its person-name words."""
    documents = []
    for objects in sorted(root.glob("*.objects")):
        stem = objects.with_suffix("")
        text = stem.with_suffix(".txt").read_text(encoding="utf-8")
        spans: dict[str, tuple[int, int]] = {}
        for line in stem.with_suffix(".spans").read_text(encoding="utf-8").splitlines():
            fields = line.split("#")[0].split()
            if len(fields) >= 4:
                spans[fields[0]] = (int(fields[2]), int(fields[2]) + int(fields[3]))
        words: set[tuple[int, int]] = set()
        for line in objects.read_text(encoding="utf-8").splitlines():
            fields = line.split("#")[0].split()
            if len(fields) >= 3 and fields[1] == "Person":
                for span_id in fields[2:]:
                    if span_id in spans:
                        start, end = spans[span_id]
                        for m in _TOKEN.finditer(text, start, end):
                            words.add((m.start(), m.end()))
        documents.append((text, sorted(words)))
    return documents


def evaluate_factru(root: Path, lowercase: bool) -> dict[str, float]:
    """Person-word leakage and precision on factRuEval documents."""
    gold_words = leaked = predicted_words = correct_words = 0
    for text, words in _factru_documents(root):
        if lowercase:
            text = text.lower()
        spans = detect(text)
        persons = [s for s in spans if s.kind is Kind.PERSON]
        gold_words += len(words)
        leaked += sum(1 for start, end in words if not _covered(start, end, spans))
        gold = set(words)
        for span in persons:
            for m in _TOKEN.finditer(text, span.start, span.end):
                predicted_words += 1
                if any(_overlap((m.start(), m.end()), g) for g in gold):
                    correct_words += 1
    return {
        "person_words": gold_words,
        "person_leakage": leaked / max(1, gold_words),
        "person_precision": correct_words / max(1, predicted_words),
    }


# -- generated chat ----------------------------------------------------------


def evaluate_chat(messages: int, seed: int) -> dict[str, object]:
    """Per-kind precision, recall and leakage, consistency and round trip."""
    tally = _Tally()
    mentions = consistent = 0
    merged_people = 0
    round_trips = round_trip_ok = echo_ok = 0
    leaky_messages = 0
    total = 0

    for dialog in ChatGenerator(seed).corpus(messages):
        pseudonymiser = Pseudonymiser()
        by_entity: dict[str, list[str]] = defaultdict(list)
        for message in dialog:
            total += 1
            text = message.text
            out, placed = pseudonymiser.pseudonymise_spans(text)
            spans = [s for s, _ in placed]
            gold_ranges = [(a, b) for a, b, _, _ in message.spans]

            leaked_before = sum(tally.leaked.values())
            for start, end, kind, ident in message.spans:
                tally.gold[kind] += 1
                hits = [
                    (s, p)
                    for s, p in placed
                    if _overlap((start, end), (s.start, s.end))
                ]
                if any(s.kind is kind for s, _ in hits):
                    tally.found[kind] += 1
                for m in _TOKEN.finditer(text, start, end):
                    tally.tokens[kind] += 1
                    if not _covered(m.start(), m.end(), spans):
                        tally.leaked[kind] += 1
                if hits and kind in (Kind.PERSON, Kind.PHONE):
                    best = max(
                        hits,
                        key=lambda h: _overlap((start, end), (h[0].start, h[0].end)),
                    )
                    by_entity[ident].append(best[1])

            if sum(tally.leaked.values()) > leaked_before:
                leaky_messages += 1
            for span in spans:
                tally.predicted[span.kind] += 1
                if any(
                    kind is span.kind and _overlap((a, b), (span.start, span.end))
                    for a, b, kind, _ in message.spans
                ):
                    tally.correct[span.kind] += 1
            for m in _TOKEN.finditer(text):
                if any(_overlap((m.start(), m.end()), g) for g in gold_ranges):
                    continue
                tally.plain_tokens += 1
                if any(_overlap((m.start(), m.end()), (s.start, s.end)) for s in spans):
                    tally.over_masked += 1

            round_trips += 1
            if pseudonymiser.restore(out) == text:
                round_trip_ok += 1
            # An answer that quotes the message in new surroundings.
            if pseudonymiser.restore("Ответ: " + out) == "Ответ: " + text:
                echo_ok += 1

        owners: dict[str, set[str]] = defaultdict(set)
        for ident, placeholders in by_entity.items():
            common, count = Counter(placeholders).most_common(1)[0]
            mentions += len(placeholders)
            consistent += count
            owners[common].add(ident)
        merged_people += sum(len(ids) - 1 for ids in owners.values())

    kinds = [k for k in Kind if tally.gold[k] or tally.predicted[k]]
    per_kind = {
        k.name: {
            "gold": tally.gold[k],
            "predicted": tally.predicted[k],
            "recall": tally.found[k] / tally.gold[k] if tally.gold[k] else None,
            "precision": tally.correct[k] / tally.predicted[k]
            if tally.predicted[k]
            else None,
            "leakage": tally.leaked[k] / tally.tokens[k] if tally.tokens[k] else None,
        }
        for k in kinds
    }
    return {
        "messages": total,
        "per_kind": per_kind,
        "over_masking": tally.over_masked / max(1, tally.plain_tokens),
        "messages_with_a_leak": leaky_messages / max(1, total),
        "consistency": consistent / max(1, mentions),
        "merged_entities": merged_people,
        "round_trip": round_trip_ok / max(1, round_trips),
        "round_trip_quoted": echo_ok / max(1, round_trips),
    }


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=152)
    parser.add_argument("--factru", type=Path, default=FACTRU)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results: dict[str, object] = {}
    if args.factru.is_dir():
        for label, lower in (("factru_cased", False), ("factru_lower", True)):
            figures = evaluate_factru(args.factru, lower)
            results[label] = figures
            print(
                f"{label:14} person words {figures['person_words']:.0f}  "
                f"leakage {figures['person_leakage']:.2%}  "
                f"precision {figures['person_precision']:.3f}"
            )
    else:
        print(f"factRuEval set not found at {args.factru}; skipped", file=sys.stderr)

    chat = evaluate_chat(args.messages, args.seed)
    results["chat"] = chat
    print(f"\ngenerated chat: {chat['messages']} messages, seed {args.seed}")
    print(
        f"{'kind':12} {'gold':>6} {'pred':>6} {'recall':>8} {'precision':>10} "
        f"{'leakage':>8}"
    )
    per_kind = chat["per_kind"]
    assert isinstance(per_kind, dict)
    for kind, row in per_kind.items():
        print(
            f"{kind:12} {row['gold']:>6} {row['predicted']:>6} "
            f"{_fmt(row['recall']):>8} "
            f"{_fmt(row['precision']):>10} {_fmt(row['leakage']):>8}"
        )
    print(
        f"messages with a leak {chat['messages_with_a_leak']:.4f}  "
        f"over-masking {chat['over_masking']:.4f}  "
        f"consistency {chat['consistency']:.4f}  "
        f"merged entities {chat['merged_entities']}  "
        f"round trip {chat['round_trip']:.4f} (quoted {chat['round_trip_quoted']:.4f})"
    )
    results["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results, ensure_ascii=False, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

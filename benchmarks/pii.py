"""Latency, throughput, cold start and memory of personal-data pseudonymisation.

Run: ``.venv/bin/python benchmarks/pii.py [--messages 500]``

Each system runs in its own fresh, single-threaded process, so the cold
start and resident memory of one do not colour the other:

* ``ours``: ``pii.Pseudonymiser`` (detection, placeholders, mapping);
* ``presidio``: Presidio analyzer + anonymizer with a no-model NLP engine,
  Russian recognizers (phonenumbers region RU, card, e-mail, SNILS, INN and
  passport patterns with check digits) and natasha as the name recognizer.
  It needs ``pip install -r requirements-bench.txt``; without it the row is
  reported as unavailable.

Messages come from the seeded chat generator: short ones of 60-100
characters and long ones of about 1,000. The last line is one JSON object.
"""

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path and its name
# would hide the ``pii`` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))


def corpus(count: int) -> tuple[list[str], list[str]]:
    """Short (60-100 characters) and long (~1,000 characters) messages."""
    from pii.generator import ChatGenerator

    texts = [m.text for d in ChatGenerator(2024).corpus(count * 6) for m in d]
    short = [t for t in texts if 60 <= len(t) <= 100][:count]
    long: list[str] = []
    current = ""
    for text in texts:
        current = f"{current} {text}" if current else text
        if len(current) >= 1000:
            long.append(current[:1000])
            current = ""
        if len(long) >= max(20, count // 5):
            break
    return short, long


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timings(run: Callable[[str], object], texts: list[str]) -> dict[str, float]:
    """Per-message latency in milliseconds and messages per second."""
    for text in texts[:20]:
        run(text)
    latencies = []
    started = time.perf_counter()
    for text in texts:
        t0 = time.perf_counter()
        run(text)
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    return {
        "p50_ms": round(statistics.median(latencies), 3),
        "p95_ms": round(percentile(latencies, 0.95), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "msgs_per_s": round(len(texts) / elapsed, 1),
    }


def ours() -> Callable[[str], object]:
    from pii import Pseudonymiser
    from pii.names import warm_up

    warm_up()
    state = {"count": 0, "p": Pseudonymiser()}

    def run(text: str) -> object:
        # A new dialog every four messages, as in an open-line chat.
        state["count"] = int(state["count"]) + 1  # type: ignore[call-overload]
        if int(state["count"]) % 4 == 0:  # type: ignore[call-overload]
            state["p"] = Pseudonymiser()
        pseudonymiser: Any = state["p"]
        return pseudonymiser.pseudonymise(text)

    run("Здравствуйте, я Анна Смирнова, тел. 8 900 123-45-67")
    return run


def presidio() -> Callable[[str], object]:
    analyzer_mod: Any = importlib.import_module("presidio_analyzer")
    engines: Any = importlib.import_module("presidio_analyzer.nlp_engine")
    predefined: Any = importlib.import_module(
        "presidio_analyzer.predefined_recognizers"
    )
    anonymizer_mod: Any = importlib.import_module("presidio_anonymizer")
    from natasha import Doc, NewsEmbedding, NewsNERTagger, Segmenter

    from pii.checksums import inn_valid, snils_valid

    segmenter, tagger = Segmenter(), NewsNERTagger(NewsEmbedding())
    pattern, recognizer_result = analyzer_mod.Pattern, analyzer_mod.RecognizerResult

    class Natasha(analyzer_mod.EntityRecognizer):  # type: ignore[misc]
        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: Any, nlp_artifacts: Any = None) -> Any:
            doc = Doc(text)
            doc.segment(segmenter)
            doc.tag_ner(tagger)
            return [
                recognizer_result("PERSON", s.start, s.stop, 0.85)
                for s in doc.spans
                if s.type == "PER"
            ]

    def checked(check: Callable[[str], bool]) -> Any:
        class Checked(analyzer_mod.PatternRecognizer):  # type: ignore[misc]
            def validate_result(self, pattern_text: str) -> bool:
                return check("".join(c for c in pattern_text if c.isdigit()))

        return Checked

    recognizers = [
        predefined.PhoneRecognizer(supported_language="ru", supported_regions=("RU",)),
        predefined.CreditCardRecognizer(supported_language="ru"),
        analyzer_mod.PatternRecognizer(
            supported_entity="EMAIL_ADDRESS",
            supported_language="ru",
            patterns=[
                pattern(
                    "email", r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}", 0.9
                )
            ],
        ),
        checked(snils_valid)(
            supported_entity="RU_SNILS",
            supported_language="ru",
            patterns=[
                pattern("snils", r"\b\d{3}[- ]?\d{3}[- ]?\d{3}[- ]?\d{2}\b", 0.5)
            ],
        ),
        checked(inn_valid)(
            supported_entity="RU_INN",
            supported_language="ru",
            patterns=[pattern("inn", r"\b(?:\d{12}|\d{10})\b", 0.5)],
        ),
        analyzer_mod.PatternRecognizer(
            supported_entity="RU_PASSPORT",
            supported_language="ru",
            patterns=[pattern("passport", r"\b\d{2}\s?\d{2}\s?№?\s?\d{6}\b", 0.3)],
            context=["паспорт", "серия"],
        ),
        Natasha(supported_entities=["PERSON"], supported_language="ru"),
    ]
    registry = analyzer_mod.RecognizerRegistry(supported_languages=["ru"])
    for recognizer in recognizers:
        registry.add_recognizer(recognizer)
    analyzer = analyzer_mod.AnalyzerEngine(
        registry=registry,
        nlp_engine=engines.NoOpNlpEngine(
            models=[{"lang_code": "ru", "model_name": "noop"}]
        ),
        supported_languages=["ru"],
    )
    anonymizer = anonymizer_mod.AnonymizerEngine()

    def run(text: str) -> object:
        results = analyzer.analyze(text=text, language="ru")
        return anonymizer.anonymize(text=text, analyzer_results=results).text

    run("Здравствуйте, я Анна Смирнова, тел. 8 900 123-45-67")
    return run


def child(system: str, count: int) -> dict[str, Any]:
    """Measure one system inside this (fresh) process."""
    run = ours() if system == "ours" else presidio()
    cold_start = time.perf_counter() - STARTED
    short, long = corpus(count)
    figures: dict[str, Any] = {"cold_start_s": round(cold_start, 2)}
    figures["chars_80"] = timings(run, short) | {"messages": len(short)}
    figures["chars_1000"] = timings(run, long) | {"messages": len(long)}
    figures["rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--child", choices=["ours", "presidio"])
    args = parser.parse_args()

    if args.child:
        print(json.dumps(child(args.child, args.messages)))
        return 0

    env = os.environ | {
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    results: dict[str, Any] = {}
    for system in ("ours", "presidio"):
        if (
            system == "presidio"
            and importlib.util.find_spec("presidio_analyzer") is None
        ):
            results[system] = {"unavailable": "pip install -r requirements-bench.txt"}
            continue
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                system,
                "--messages",
                str(args.messages),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            results[system] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        results[system] = json.loads(done.stdout.strip().splitlines()[-1])

    print(
        f"{'system':9} {'size':>5} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'msg/s':>8}"
    )
    for system, figures in list(results.items()):
        for size in ("chars_80", "chars_1000"):
            if size not in figures:
                continue
            row = figures[size]
            print(
                f"{system:9} {size[6:]:>5} {row['p50_ms']:>8} {row['p95_ms']:>8} "
                f"{row['p99_ms']:>8} {row['msgs_per_s']:>8}"
            )
        if "cold_start_s" in figures:
            print(
                f"{system:9} cold start {figures['cold_start_s']} s, "
                f"RSS {figures['rss_mb']} MB"
            )
        else:
            print(f"{system:9} {figures}")
    # Other work on the machine shows up in the tails; say how busy it was.
    results["load_average_1m"] = round(os.getloadavg()[0], 2)
    results["cpu_count"] = os.cpu_count()
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

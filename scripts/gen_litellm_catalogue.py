"""Generate ``python/tokenmill/data/litellm_prices.json.gz`` from LiteLLM's price file.

Source: ``litellm/model_prices_and_context_window_backup.json`` inside the ``litellm`` wheel on
PyPI (version below). Get it without installing or importing litellm:

    pip download --no-deps litellm==1.110.2 -d /tmp/litellm
    unzip -o /tmp/litellm/litellm-1.110.2-*.whl \
        'litellm/model_prices_and_context_window_backup.json' -d /tmp/litellm
    python scripts/gen_litellm_catalogue.py \
        /tmp/litellm/litellm/model_prices_and_context_window_backup.json

Every chat / completion / responses / embedding entry with a per-token input price is kept,
converted to tokenmill's package-data format (USD per 1M tokens as decimal strings, the lowest
long-context tier, one-hour cache writes, reasoning prices, the names of price fields tokenmill
does not apply, and the best tokenizer tokenmill has for the model). The curated catalogue
(``data/prices.json``) is loaded first and wins on a name clash.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
from decimal import Decimal
from pathlib import Path

from tokenmill.cost.litellm import litellm_record

LITELLM_VERSION = "1.110.2"
AS_OF = "2026-11-27"  # the date the wheel's file was read; the curated catalogue's as-of date
MODES = ("chat", "completion", "responses", "embedding")
OUT = (
    Path(__file__).resolve().parents[1] / "python" / "tokenmill" / "data" / "litellm_prices.json.gz"
)


def _decimal(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")  # plain digits, never 1E+1
    raise TypeError(f"cannot write {value!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="model_prices_and_context_window_backup.json")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    raw = args.source.read_bytes()
    data = json.loads(raw)
    source = f"litellm {LITELLM_VERSION} wheel (PyPI): litellm/{args.source.name}"
    models = {}
    for name in sorted(data):
        entry = data[name]
        if name == "sample_spec" or not isinstance(entry, dict):
            continue
        if entry.get("mode") not in MODES:
            continue
        price = entry.get("input_cost_per_token")
        if isinstance(price, bool) or not isinstance(price, (int, float)):
            continue
        record = litellm_record(name, entry, f"{source} [{name}]", AS_OF)
        # compact: absent prices and empty lists are left out (absent = null when loaded)
        models[name] = {k: v for k, v in record.items() if v not in (None, [])}
        for key in ("source", "as_of"):
            models[name].pop(key)
        if record.get("long_context"):
            models[name]["long_context"] = {
                k: v for k, v in record["long_context"].items() if v is not None
            }
    doc = {
        "schema": 1,
        "currency": "USD",
        "unit": "per 1M tokens",
        "as_of": AS_OF,
        "source": source,
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "generated_by": "scripts/gen_litellm_catalogue.py",
        "models": models,
    }
    text = json.dumps(doc, separators=(",", ":"), sort_keys=True, default=_decimal)
    # mtime=0: the same input gives the same bytes
    args.out.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    print(f"{len(models)} models -> {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()

"""``tokenmill info``: version, SIMD dispatch level, optional extras present."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print as JSON")


def run(args: argparse.Namespace) -> int:
    from tokenmill._native import __version__, simd_level

    extras = ["matplotlib", "pyarrow", "pandas", "tiktoken", "tokenizers", "torch"]
    info: dict[str, Any] = {
        "version": __version__,
        "simd": simd_level(),
        # TOKENMILL_SIMD=scalar|avx2|avx512|neon forces the kernel set (read once per process).
        "simd_env": os.environ.get("TOKENMILL_SIMD") or None,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "optional": {m: importlib.util.find_spec(m) is not None for m in extras},
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        forced = f", TOKENMILL_SIMD={info['simd_env']}" if info["simd_env"] else ""
        print(
            f"tokenmill {info['version']} (SIMD: {info['simd']}{forced}, Python {info['python']})"
        )
        for name, present in info["optional"].items():
            print(f"  {name:<12} {'yes' if present else 'no'}")
    return 0

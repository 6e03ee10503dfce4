"""``tokenmill info``: the build (version, commit, target, wheel tag, SIMD levels), the Python
it runs in, and which optional extras are present."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print as JSON")


def wheel_tags() -> list[str]:
    """The platform tags of the installed distribution (from its ``WHEEL`` file), e.g.
    ``manylinux_2_17_x86_64``; empty when not installed from a wheel."""
    from importlib import metadata

    try:
        text = metadata.distribution("tokenmill").read_text("WHEEL") or ""
    except metadata.PackageNotFoundError:
        return []
    tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
    # A tag is python-abi-platform; compressed tag sets join platforms with dots.
    return sorted({p for tag in tags for p in tag.split("-")[-1].split(".") if p})


def _strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def run(args: argparse.Namespace) -> int:
    from tokenmill._native import Encoding, build_info

    extras = ["matplotlib", "pyarrow", "pandas", "tiktoken", "tokenizers", "torch"]
    build = build_info()
    tags = wheel_tags()
    compiled, usable = _strs(build["simd_compiled"]), _strs(build["simd_usable"])
    optional = {m: importlib.util.find_spec(m) is not None for m in extras}
    info: dict[str, object] = {
        "version": build["version"],
        "commit": build["commit"],
        "target": build["target"],
        "wheel_tags": tags,
        "rustc": build["rustc"],
        "simd": build["simd_chosen"],
        "simd_compiled": compiled,
        "simd_usable": usable,
        # TOKENMILL_SIMD=scalar|avx2|avx512|neon forces the kernel set (read once per process).
        "simd_env": os.environ.get("TOKENMILL_SIMD") or None,
        # where tokenizer.json tables are cached (TOKENMILL_CACHE_DIR; None: off)
        "table_cache": None if (cache := Encoding.table_cache_dir()) is None else str(cache),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "optional": optional,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"tokenmill {info['version']} (commit {info['commit']}, Python {info['python']})")
    print(f"  target       {info['target']}")
    print(f"  wheel tag    {', '.join(tags) or 'unknown (not installed from a wheel)'}")
    print(f"  rustc        {info['rustc']}")
    forced = f", TOKENMILL_SIMD={info['simd_env']}" if info["simd_env"] else ""
    print(
        f"  SIMD         {info['simd']}{forced} (compiled in: {', '.join(compiled)}; "
        f"this CPU: {', '.join(usable)})"
    )
    print(f"  table cache  {info['table_cache'] or 'off (TOKENMILL_CACHE_DIR is empty)'}")
    for name, present in optional.items():
        print(f"  {name:<12} {'yes' if present else 'no'}")
    return 0

"""Regenerate the README's report figure: ``docs/report.svg`` and ``docs/report.png``.

The built-in corpus (40 sentences in 31 languages) counted with the two bundled encodings,
``cl100k_base`` and ``o200k_base``, drawn by :func:`tokenmill.report.plot.plot_premium`. Run from
the repository root with tokenmill and matplotlib installed (``pip install '.[report]'``):
``python scripts/report_figure.py``. The counts are exact, so the figure only changes when the
corpus, the encodings or the plot code do.
"""

from __future__ import annotations

from pathlib import Path

from tokenmill.report.model import token_length_report
from tokenmill.report.plot import plot_premium

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main() -> None:
    report = token_length_report(None, tokenizers=["cl100k_base", "o200k_base"], progress=False)
    for suffix in (".svg", ".png"):
        path = plot_premium(report, DOCS / f"report{suffix}", dpi=110)
        print(f"wrote {path.relative_to(DOCS.parent)}")


if __name__ == "__main__":
    main()

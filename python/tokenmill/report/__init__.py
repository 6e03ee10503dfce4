"""The multilingual token-length report (``tokenmill report``): loaders, statistics, rendering.

Import cost: numpy only; matplotlib and pyarrow load when a plot or a Parquet file is asked for.
"""

from __future__ import annotations

from tokenmill.report.corpus import Corpus, LanguageTexts, load_corpus
from tokenmill.report.model import ModelPricing, Report, ReportRow, token_length_report

__all__ = [
    "Corpus",
    "LanguageTexts",
    "ModelPricing",
    "Report",
    "ReportRow",
    "load_corpus",
    "token_length_report",
]

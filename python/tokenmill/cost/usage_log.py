"""Price usage logs: JSONL files of provider responses, grouped by model and/or day.

Design notes
------------
* **Formats.** Each line is one provider response (or wrapper) as the API returned it: OpenAI
  chat completions (``"object": "chat.completion"``, and the final usage chunk of a stream), the
  Responses API (``"object": "response"``, or a ``response.completed`` stream event), OpenAI Batch
  API output lines (``custom_id`` + ``response.body``: priced at batch prices), Anthropic Messages
  responses (``"type": "message"``; Message Batches result lines at batch prices) and Gemini
  ``generateContent`` responses (``usageMetadata``). Each provider's inclusion rules are applied by
  :class:`~tokenmill.cost.usage.Usage`'s ``from_openai`` / ``from_anthropic`` / ``from_gemini``.
* **Exact money.** Every request is priced on its own (a long-context tier applies per request)
  with :func:`~tokenmill.cost.usage.price_usage`; group sums are exact ``Decimal`` sums.
* **Nothing silently dropped.** A line that is not JSON, or not a response tokenmill can read,
  is a :class:`BadRow` with its file and line number; a request whose model the catalogue
  does not know is counted under :attr:`UsageReport.unknown_models` with its tokens, outside the
  costed groups; stream chunks without usage and failed batch requests are counted as carrying
  no usage. The report's totals say what they exclude.
* **Constant memory.** Files are read line by line; the state is one accumulator per group, one
  resolved catalogue record per model name, and the first ``MAX_SKIPPED`` skipped lines.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Literal

from tokenmill.cost.catalogue import (
    MONEY,
    Catalogue,
    MissingPriceError,
    Resolution,
    UnknownModelError,
    bundled_catalogue,
)
from tokenmill.cost.readers import BadRow
from tokenmill.cost.usage import Usage, price_usage

__all__ = [
    "GroupBy",
    "LoggedRequest",
    "UsageGroup",
    "UsageReport",
    "parse_response",
    "price_usage_logs",
]

MAX_SKIPPED = 100
GroupBy = Literal["model", "day", "model,day"]
UNKNOWN_DAY = "unknown"


@dataclass(frozen=True)
class LoggedRequest:
    """One priced request read from a log line: the model it names, its UTC day, its usage."""

    model: str
    day: str
    usage: Usage
    batch: bool
    api: str


@dataclass(frozen=True)
class UsageGroup:
    """Requests, tokens by bucket and exact cost of one group (or of everything)."""

    key: tuple[str, ...]
    requests: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = Decimal(0)

    def add(self, usage: Usage, cost: Decimal) -> UsageGroup:
        return dataclasses.replace(
            self,
            requests=self.requests + 1,
            input_tokens=self.input_tokens + usage.uncached_input_tokens,
            cached_tokens=self.cached_tokens + usage.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens
            + usage.cache_write_tokens
            + usage.cache_write_1h_tokens,
            output_tokens=self.output_tokens + usage.output_tokens,
            reasoning_tokens=self.reasoning_tokens + usage.reasoning_tokens,
            cost=MONEY.add(self.cost, cost),
        )

    def to_dict(self, by: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = dict(zip(by, self.key, strict=True))
        for f in dataclasses.fields(self)[1:]:
            v = getattr(self, f.name)
            out[f.name] = format(v, "f") if isinstance(v, Decimal) else v
        return out


@dataclass(frozen=True)
class UsageReport:
    """Cost of usage logs by group, and everything the totals leave out."""

    by: tuple[str, ...]
    groups: tuple[UsageGroup, ...]
    total: UsageGroup
    files: tuple[str, ...]
    lines: int
    unknown_models: tuple[UsageGroup, ...]  # key = (model,); cost 0, not in the total
    unpriced: tuple[BadRow, ...]  # the first requests with usage the model has no price for
    unpriced_count: int
    skipped: tuple[BadRow, ...]  # the first MAX_SKIPPED unreadable lines
    skipped_count: int
    no_usage_lines: int  # stream chunks without usage, failed batch requests
    warnings: tuple[str, ...] = ()

    def excluded(self) -> str:
        """What the totals leave out, in one sentence (empty when nothing)."""
        parts = []
        if self.unknown_models:
            n = sum(g.requests for g in self.unknown_models)
            names = ", ".join(g.key[0] for g in self.unknown_models[:5])
            parts.append(f"{n:,} requests of {len(self.unknown_models)} unknown models ({names})")
        if self.unpriced_count:
            parts.append(f"{self.unpriced_count:,} requests with usage the model has no price for")
        if self.skipped_count:
            parts.append(f"{self.skipped_count:,} unreadable lines")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": list(self.by),
            "files": list(self.files),
            "lines": self.lines,
            "currency": "USD",
            "groups": [g.to_dict(self.by) for g in self.groups],
            "total": self.total.to_dict(()),
            "excluded": self.excluded(),
            "unknown_models": [g.to_dict(("model",)) for g in self.unknown_models],
            "unpriced": [str(s) for s in self.unpriced],
            "unpriced_count": self.unpriced_count,
            "skipped": [str(s) for s in self.skipped],
            "skipped_count": self.skipped_count,
            "no_usage_lines": self.no_usage_lines,
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------------------------
# One response -> one request
# --------------------------------------------------------------------------------------------


def _counts(usage: Mapping[str, Any], where: str, *fields: str) -> list[int]:
    """The token counts at ``fields`` (``"a"`` or ``"a.b"`` for a nested object): absent or null
    is 0; anything but a non-negative integer raises ``ValueError`` naming the field."""
    out = []
    for field in fields:
        obj: Any = usage
        for part in field.split("."):
            obj = obj.get(part) if isinstance(obj, Mapping) else None
        if obj is None:
            obj = 0
        if isinstance(obj, bool) or not isinstance(obj, int) or obj < 0:
            raise ValueError(f"{where}.{field} must be a non-negative integer, got {obj!r}")
        out.append(obj)
    return out


def _day_from_epoch(value: object) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        stamp = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
        return stamp.date().isoformat()
    return UNKNOWN_DAY


def _day_from_iso(value: object) -> str:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return datetime.date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            return UNKNOWN_DAY
    return UNKNOWN_DAY


def _model(obj: Mapping[str, Any], key: str = "model") -> str:
    model = obj.get(key)
    if not isinstance(model, str) or not model:
        raise ValueError(f"no {key!r} field")
    return model


def _openai(obj: Mapping[str, Any], batch: bool) -> LoggedRequest | None:
    usage = obj.get("usage")
    kind = obj.get("object")
    if usage is None:
        if kind == "chat.completion.chunk":
            return None  # a stream chunk before the final usage chunk
        raise ValueError(f"{kind} without usage")
    if not isinstance(usage, Mapping):
        raise ValueError("usage must be an object")
    if kind == "response":  # Responses API: input / output tokens, same inclusion rules
        fields = ("input_tokens", "output_tokens", "input_tokens_details.cached_tokens")
        reasoning = "output_tokens_details.reasoning_tokens"
        day, api = _day_from_epoch(obj.get("created_at")), "responses"
    else:
        fields = ("prompt_tokens", "completion_tokens", "prompt_tokens_details.cached_tokens")
        reasoning = "completion_tokens_details.reasoning_tokens"
        day, api = _day_from_epoch(obj.get("created")), "chat"
    u = Usage.from_openai(*_counts(usage, "usage", *fields, reasoning))
    return LoggedRequest(_model(obj), day, u, batch, api)


#: Usage.from_anthropic's and from_gemini's arguments, as the responses name them.
_ANTHROPIC = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
)
_GEMINI = (
    "promptTokenCount",
    "candidatesTokenCount",
    "cachedContentTokenCount",
    "thoughtsTokenCount",
)


def _anthropic(obj: Mapping[str, Any], batch: bool) -> LoggedRequest:
    usage = obj.get("usage")
    if not isinstance(usage, Mapping):
        raise ValueError("Anthropic message without usage")
    u = Usage.from_anthropic(*_counts(usage, "usage", *_ANTHROPIC))
    return LoggedRequest(_model(obj), UNKNOWN_DAY, u, batch, "anthropic")


def _gemini(obj: Mapping[str, Any]) -> LoggedRequest:
    meta = obj.get("usageMetadata")
    if not isinstance(meta, Mapping):
        raise ValueError("usageMetadata must be an object")
    u = Usage.from_gemini(*_counts(meta, "usageMetadata", *_GEMINI))
    return LoggedRequest(
        _model(obj, "modelVersion"), _day_from_iso(obj.get("createTime")), u, False, "gemini"
    )


def parse_response(obj: object) -> LoggedRequest | None:
    """The request a log line describes, ``None`` for a line that carries no usage (a stream
    chunk before the last, a failed batch request); ``ValueError`` says why a line is unreadable."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    if "custom_id" in obj and isinstance(obj.get("response"), Mapping):  # OpenAI Batch output
        response = obj["response"]
        if response.get("status_code") != 200 or obj.get("error"):
            return None
        body = response.get("body")
        if not isinstance(body, Mapping):
            raise ValueError("batch line without response.body")
        return _openai(body, batch=True)
    if "custom_id" in obj and isinstance(obj.get("result"), Mapping):  # Anthropic batch result
        result = obj["result"]
        if result.get("type") != "succeeded":
            return None
        message = result.get("message")
        if not isinstance(message, Mapping):
            raise ValueError("batch result without message")
        return _anthropic(message, batch=True)
    if obj.get("type") == "response.completed" and isinstance(obj.get("response"), Mapping):
        return _openai(obj["response"], batch=False)
    kind = obj.get("object")
    if kind in ("chat.completion", "chat.completion.chunk", "response", "text_completion"):
        return _openai(obj, batch=False)
    if obj.get("type") == "message":
        return _anthropic(obj, batch=False)
    if "usageMetadata" in obj:
        return _gemini(obj)
    raise ValueError("not a provider response tokenmill can read (no usage found)")


# --------------------------------------------------------------------------------------------
# Files -> report
# --------------------------------------------------------------------------------------------


def _lines(path: str) -> Iterator[bytes]:
    if path == "-":
        yield from sys.stdin.buffer
        return
    try:
        f: BinaryIO = Path(path).open("rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise OSError(f"cannot read usage log {path}: {exc.strerror or exc}") from exc
    with f:
        yield from f


def _key(request: LoggedRequest, by: Sequence[str]) -> tuple[str, ...]:
    return tuple(request.model if b == "model" else request.day for b in by)


def _by(group_by: str) -> tuple[str, ...]:
    by = tuple(part.strip() for part in group_by.split(",") if part.strip())
    if not by or any(b not in ("model", "day") for b in by) or len(set(by)) != len(by):
        raise ValueError(f"--by must be model, day or model,day; got {group_by!r}")
    return by


def price_usage_logs(
    paths: Iterable[str | Path],
    *,
    by: str = "model",
    catalogue: Catalogue | None = None,
) -> UsageReport:
    """Read JSONL usage logs (see the module notes for the formats) and price every request.

    ``by``: ``"model"``, ``"day"`` (UTC, from the response's timestamp; ``unknown`` where the
    provider gives none) or ``"model,day"``. Groups are sorted by key.
    """
    keys = _by(by)
    cat = catalogue or bundled_catalogue()
    files = tuple(str(p) for p in paths)
    if not files:
        raise ValueError("no usage log given")
    groups: dict[tuple[str, ...], UsageGroup] = {}
    unknown: dict[str, UsageGroup] = {}
    records: dict[str, Resolution | None] = {}  # model name -> its record, None when unknown
    notes: dict[str, str] = {}
    skipped: list[BadRow] = []
    unpriced: list[BadRow] = []
    skipped_count = no_usage = lines = unpriced_count = 0
    total = UsageGroup(())
    for path in files:
        for lineno, raw in enumerate(_lines(path), 1):
            lines += 1
            if not raw.strip():
                continue
            try:
                request = parse_response(json.loads(raw))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                request, why = None, f"malformed JSON: {exc}"
            except ValueError as exc:
                request, why = None, str(exc)
            else:
                why = ""
                if request is None:
                    no_usage += 1
                    continue
            if request is None:
                skipped_count += 1
                if len(skipped) < MAX_SKIPPED:
                    skipped.append(BadRow(path, lineno, why))
                continue
            if request.model not in records:
                try:
                    records[request.model] = cat.resolve(request.model)
                except UnknownModelError:
                    records[request.model] = None
            resolved = records[request.model]
            if resolved is None:
                g = unknown.get(request.model, UsageGroup((request.model,)))
                unknown[request.model] = g.add(request.usage, Decimal(0))
                continue
            if resolved.note is not None:
                notes.setdefault(request.model, resolved.note)
            try:
                est = price_usage(
                    resolved.record, request.usage, batch=request.batch, check_limits=False
                )
            except MissingPriceError as exc:
                unpriced_count += 1
                if len(unpriced) < MAX_SKIPPED:
                    unpriced.append(BadRow(path, lineno, str(exc)))
                continue
            key = _key(request, keys)
            groups[key] = groups.get(key, UsageGroup(key)).add(request.usage, est.total_cost)
            total = total.add(request.usage, est.total_cost)
    return UsageReport(
        by=keys,
        groups=tuple(groups[k] for k in sorted(groups)),
        total=total,
        files=files,
        lines=lines,
        unknown_models=tuple(unknown[k] for k in sorted(unknown)),
        unpriced=tuple(unpriced),
        unpriced_count=unpriced_count,
        skipped=tuple(skipped),
        skipped_count=skipped_count,
        no_usage_lines=no_usage,
        warnings=tuple(notes[m] for m in sorted(notes)),
    )

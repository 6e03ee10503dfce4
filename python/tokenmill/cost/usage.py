"""Pricing token counts: :class:`Usage` (five disjoint buckets), :func:`price_usage`, and the
exact :class:`CostEstimate` it returns.

Design notes
------------
* **Usage is disjoint.** :class:`Usage` holds five non-overlapping counts (uncached input, cache
  read, cache write, visible output, reasoning). Providers report overlapping counts; the
  ``Usage.from_openai`` / ``from_anthropic`` / ``from_gemini`` constructors encode each provider's
  inclusion rules (documented on each), so pricing is one dot product.
* **Never a silent 0.** Each component is ``tokens * price / 1_000_000`` in the exact
  :data:`~tokenmill.cost.catalogue.MONEY` context; a component with tokens and no price raises
  :class:`~tokenmill.cost.catalogue.MissingPriceError`.
* **Estimates add.** ``a + b`` sums the counts and every money component of two estimates of one
  model (a dataset priced in parts, its standard and long-context rows).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tokenmill.cost.catalogue import (
    MILLION,
    MONEY,
    Catalogue,
    MissingPriceError,
    ModelPrice,
    bundled_catalogue,
)

__all__ = ["CostEstimate", "Usage", "limit_warnings", "nonnegative_int", "price_usage"]


def nonnegative_int(value: object, name: str) -> int:
    """``value`` as a token count: an int >= 0 (bools rejected), else an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


@dataclass(frozen=True)
class Usage:
    """Token counts of one request (or a sum of requests), as six disjoint buckets.

    * ``uncached_input_tokens``: prompt tokens billed at the normal input price (neither read
      from nor written to a cache);
    * ``cache_read_tokens``: prompt tokens served from the provider's prompt cache;
    * ``cache_write_tokens``: prompt tokens written to the cache (Anthropic's cache creation);
    * ``output_tokens``: visible completion tokens;
    * ``reasoning_tokens``: hidden reasoning / thinking tokens, billed at the output price
      (or the model's own reasoning price, where it has one);
    * ``cache_write_1h_tokens``: prompt tokens written to a one-hour cache (Anthropic), billed at
      the one-hour cache-write price.

    Providers report overlapping totals; use the ``from_*`` constructors to convert.
    """

    uncached_input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_1h_tokens: int = 0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            nonnegative_int(getattr(self, f.name), f.name)

    @property
    def prompt_tokens(self) -> int:
        """All prompt-side tokens: uncached + cache read + cache writes."""
        return (
            self.uncached_input_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.cache_write_1h_tokens
        )

    @property
    def billed_output_tokens(self) -> int:
        return self.output_tokens + self.reasoning_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(*(getattr(self, f.name) + getattr(other, f.name) for f in _USAGE_FIELDS))

    @classmethod
    def from_openai(
        cls,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> Usage:
        """OpenAI (and DeepSeek, and other OpenAI-compatible APIs).

        ``prompt_tokens`` **include** ``prompt_tokens_details.cached_tokens`` (DeepSeek:
        ``prompt_cache_hit_tokens``); ``completion_tokens`` **include**
        ``completion_tokens_details.reasoning_tokens``. OpenAI charges no cache write.
        """
        p = nonnegative_int(prompt_tokens, "prompt_tokens")
        c = nonnegative_int(completion_tokens, "completion_tokens")
        cached = nonnegative_int(cached_tokens, "cached_tokens")
        reasoning = nonnegative_int(reasoning_tokens, "reasoning_tokens")
        if cached > p:
            raise ValueError(f"cached_tokens ({cached}) exceed prompt_tokens ({p})")
        if reasoning > c:
            raise ValueError(f"reasoning_tokens ({reasoning}) exceed completion_tokens ({c})")
        return cls(p - cached, cached, 0, c - reasoning, reasoning)

    @classmethod
    def from_anthropic(
        cls,
        input_tokens: int,
        output_tokens: int,
        cache_read_input_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
        ephemeral_1h_input_tokens: int = 0,
    ) -> Usage:
        """Anthropic Messages API.

        ``input_tokens`` **exclude** both ``cache_read_input_tokens`` and
        ``cache_creation_input_tokens`` (the three are disjoint); ``output_tokens`` include
        extended-thinking tokens, which Anthropic does not report separately.
        ``ephemeral_1h_input_tokens`` (``usage.cache_creation.ephemeral_1h_input_tokens``) is the
        part of ``cache_creation_input_tokens`` written to the one-hour cache.
        """
        written = nonnegative_int(cache_creation_input_tokens, "cache_creation_input_tokens")
        hour = nonnegative_int(ephemeral_1h_input_tokens, "ephemeral_1h_input_tokens")
        if hour > written:
            raise ValueError(
                f"ephemeral_1h_input_tokens ({hour}) exceed cache_creation_input_tokens ({written})"
            )
        return cls(
            nonnegative_int(input_tokens, "input_tokens"),
            nonnegative_int(cache_read_input_tokens, "cache_read_input_tokens"),
            written - hour,
            nonnegative_int(output_tokens, "output_tokens"),
            0,
            hour,
        )

    @classmethod
    def from_gemini(
        cls,
        prompt_token_count: int,
        candidates_token_count: int,
        cached_content_token_count: int = 0,
        thoughts_token_count: int = 0,
    ) -> Usage:
        """Google Gemini ``usageMetadata``.

        Like OpenAI, ``promptTokenCount`` **includes** ``cachedContentTokenCount``; unlike OpenAI,
        ``candidatesTokenCount`` **excludes** ``thoughtsTokenCount`` (thinking tokens are reported
        beside the candidates and billed at the output price).
        """
        p = nonnegative_int(prompt_token_count, "prompt_token_count")
        cached = nonnegative_int(cached_content_token_count, "cached_content_token_count")
        if cached > p:
            raise ValueError(
                f"cached_content_token_count ({cached}) exceeds prompt_token_count ({p})"
            )
        return cls(
            p - cached,
            cached,
            0,
            nonnegative_int(candidates_token_count, "candidates_token_count"),
            nonnegative_int(thoughts_token_count, "thoughts_token_count"),
        )


_USAGE_FIELDS = dataclasses.fields(Usage)


@dataclass(frozen=True)
class CostEstimate:
    """The price of one request (or a dataset): counts, each component, the exact total."""

    model: str
    provider: str
    usage: Usage
    input_cost: Decimal
    cache_read_cost: Decimal
    cache_write_cost: Decimal
    output_cost: Decimal
    reasoning_cost: Decimal
    total_cost: Decimal
    currency: str
    batch: bool
    long_context: bool
    exact: bool
    reason: str
    tokenizer: str | None
    as_of: str | None
    source: str
    warnings: tuple[str, ...] = ()

    @property
    def input_tokens(self) -> int:
        """All prompt tokens (uncached + cache read + cache write)."""
        return self.usage.prompt_tokens

    @property
    def output_tokens(self) -> int:
        """All billed output tokens (visible + reasoning)."""
        return self.usage.billed_output_tokens

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: money as decimal strings (exact), counts as ints."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Decimal):
                out[f.name] = format(v, "f")
            elif isinstance(v, Usage):
                out[f.name] = dataclasses.asdict(v)
            elif isinstance(v, tuple):
                out[f.name] = list(v)
            else:
                out[f.name] = v
        out["input_tokens"] = self.input_tokens
        out["output_tokens"] = self.output_tokens
        return out

    def __add__(self, other: CostEstimate) -> CostEstimate:
        """The estimate of both requests (or datasets) together, on the same model and tier.

        Counts and money components add exactly; ``long_context`` is true when either part used
        the long-context prices; the sum is exact only when both parts are, and keeps the
        reasons and warnings of both.
        """
        if not isinstance(other, CostEstimate):
            return NotImplemented
        for attr in ("model", "currency", "batch"):
            if getattr(self, attr) != getattr(other, attr):
                raise ValueError(
                    f"cannot add estimates with different {attr}: "
                    f"{getattr(self, attr)!r} and {getattr(other, attr)!r}"
                )
        reason = self.reason if other.reason == self.reason else f"{self.reason}; {other.reason}"
        return dataclasses.replace(
            self,
            usage=self.usage + other.usage,
            # Sums in the money context, like the parts (not the default 28-digit context).
            input_cost=MONEY.add(self.input_cost, other.input_cost),
            cache_read_cost=MONEY.add(self.cache_read_cost, other.cache_read_cost),
            cache_write_cost=MONEY.add(self.cache_write_cost, other.cache_write_cost),
            output_cost=MONEY.add(self.output_cost, other.output_cost),
            reasoning_cost=MONEY.add(self.reasoning_cost, other.reasoning_cost),
            total_cost=MONEY.add(self.total_cost, other.total_cost),
            long_context=self.long_context or other.long_context,
            exact=self.exact and other.exact,
            reason=reason,
            warnings=self.warnings + tuple(w for w in other.warnings if w not in self.warnings),
        )


def _component(
    record: ModelPrice, tokens: int, price: Decimal | None, what: str, tier: str
) -> Decimal:
    if tokens == 0:
        return Decimal(0)
    if price is None:
        raise MissingPriceError(
            f"model {record.name!r} has no {what} price{tier} in the catalogue "
            f"(source: {record.source}); {tokens} tokens cannot be priced"
        )
    return MONEY.divide(MONEY.multiply(Decimal(tokens), price), MILLION)


def price_usage(
    model: str | ModelPrice,
    usage: Usage,
    *,
    batch: bool = False,
    catalogue: Catalogue | None = None,
    exact: bool = True,
    reason: str = "token counts supplied by the caller",
    tokenizer: str | None = None,
    long_context: bool | None = None,
    check_limits: bool = True,
) -> CostEstimate:
    """Price explicit token counts. Every component used must have a price (never a silent 0).

    Long-context prices (e.g. Gemini Pro above 200k prompt tokens) apply to the whole request when
    ``usage.prompt_tokens`` exceeds the threshold, as the providers bill them. A ``Usage`` that sums
    many requests should be priced per request when a long-context tier exists; pass
    ``long_context=True/False`` to choose the tier yourself (``None``: decide from the counts).
    With ``check_limits`` a prompt above the context window or an output above the model's
    maximum is reported in ``result.warnings`` (the request would be rejected; it is still priced).
    """
    if not isinstance(usage, Usage):
        raise TypeError(f"usage must be a tokenmill.Usage, got {type(usage).__name__}")
    note = None
    if isinstance(model, ModelPrice):
        record = model
    else:
        resolved = (catalogue or bundled_catalogue()).resolve(model)
        record, note = resolved.record, resolved.note
    lc = record.long_context
    if long_context is None:
        long = lc is not None and usage.prompt_tokens > lc.above_input_tokens
    else:
        if long_context and lc is None:
            raise MissingPriceError(f"model {record.name!r} has no long-context prices")
        long = long_context
    tier = f" above {lc.above_input_tokens} prompt tokens" if long and lc is not None else ""
    if batch:
        if record.batch_input is None and record.batch_output is None:
            raise MissingPriceError(
                f"model {record.name!r} has no batch prices in the catalogue "
                f"(source: {record.source})"
            )
        p_in, p_out = record.batch_input, record.batch_output
        p_read, p_write = record.batch_cache_read, record.batch_cache_write
        p_write_1h = p_reasoning = None
        if long and lc is not None:
            p_in, p_out, p_read = lc.batch_input, lc.batch_output, lc.batch_cache_read
        kind = "batch "
    else:
        p_in, p_out, p_read, p_write = (
            record.input,
            record.output,
            record.cache_read,
            record.cache_write,
        )
        p_write_1h, p_reasoning = record.cache_write_1h, record.reasoning
        if long and lc is not None:
            p_in, p_out, p_read = lc.input, lc.output, lc.cache_read
            p_write = lc.cache_write if lc.cache_write is not None else p_write
        kind = ""
    input_cost = _component(record, usage.uncached_input_tokens, p_in, f"{kind}input", tier)
    read_cost = _component(record, usage.cache_read_tokens, p_read, f"{kind}cache-read", tier)
    write_cost = _component(record, usage.cache_write_tokens, p_write, f"{kind}cache-write", tier)
    if usage.cache_write_1h_tokens:
        write_cost = MONEY.add(
            write_cost,
            _component(
                record, usage.cache_write_1h_tokens, p_write_1h, f"{kind}1-hour cache-write", tier
            ),
        )
    output_cost = _component(record, usage.output_tokens, p_out, f"{kind}output", tier)
    reasoning_cost = _component(
        record,
        usage.reasoning_tokens,
        p_out if p_reasoning is None else p_reasoning,
        f"{kind}output (reasoning)",
        tier,
    )
    warnings = (
        limit_warnings(record, usage.prompt_tokens, usage.billed_output_tokens)
        if check_limits
        else ()
    )
    if note is not None:
        warnings = (note, *warnings)
    if record.unmodelled:
        warnings += (
            f"{record.name} also has prices tokenmill does not apply "
            f"({', '.join(record.unmodelled)}); they are not in this estimate",
        )
    total = Decimal(0)
    for part in (input_cost, read_cost, write_cost, output_cost, reasoning_cost):
        total = MONEY.add(total, part)
    return CostEstimate(
        model=record.name,
        provider=record.provider,
        usage=usage,
        input_cost=input_cost,
        cache_read_cost=read_cost,
        cache_write_cost=write_cost,
        output_cost=output_cost,
        reasoning_cost=reasoning_cost,
        total_cost=MONEY.plus(total),
        currency="USD",
        batch=batch,
        long_context=long,
        exact=exact,
        reason=reason,
        tokenizer=tokenizer,
        as_of=record.as_of,
        source=record.source,
        warnings=warnings,
    )


def limit_warnings(record: ModelPrice, prompt: int, output: int) -> tuple[str, ...]:
    out: list[str] = []
    if record.context_window is not None and prompt > record.context_window:
        out.append(
            f"prompt of {prompt} tokens exceeds {record.name}'s context window of "
            f"{record.context_window}"
        )
    if record.max_output is not None and output > record.max_output:
        out.append(f"{output} output tokens exceed {record.name}'s maximum of {record.max_output}")
    return tuple(out)

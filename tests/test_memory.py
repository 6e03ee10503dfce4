"""Native calls leave no memory behind in the caller's objects.

CPython caches a UTF-8 copy inside a non-ASCII ``str`` the first time C code asks for its UTF-8
form in place, for the rest of the string's life. ``sys.getsizeof`` counts that cache, so it shows
whether a call left one behind: a batch over a gigabyte of non-ASCII text would otherwise leave
the caller's strings about a gigabyte larger after the call.
"""

from __future__ import annotations

import sys

import tokenmill as tm

ENC = tm.get_encoding("o200k_base")
TEXTS = [("héllo wörld — 北京是首都 🌍 " * 500) + str(i) for i in range(40)] + ["ascii only"]


def test_calls_leave_no_utf8_copy_in_the_strings() -> None:
    sizes = [sys.getsizeof(t) for t in TEXTS]
    counts = ENC.count_batch(TEXTS)
    ids = ENC.encode_batch(TEXTS)
    assert [len(x) for x in ids] == [int(c) for c in counts]
    for t in TEXTS[:3]:
        assert ENC.count(t) == len(ENC.encode(t)) == len(ENC.encode_ordinary(t))
        assert ENC.count_till_limit(t, 10**9) == ENC.count_ordinary(t)
    assert [sys.getsizeof(t) for t in TEXTS] == sizes


def test_surrogates_are_still_replaced() -> None:
    # Lone surrogates cannot be UTF-8 encoded: they become U+FFFD, as in tiktoken.
    assert ENC.encode("a\ud800b") == ENC.encode("a\ufffdb")
    assert ENC.count_batch(["a\ud800b"]).tolist() == [len(ENC.encode("a\ufffdb"))]

"""Ctrl-C during a long native call raises ``KeyboardInterrupt`` promptly.

Each test runs a child Python that starts a call needing far longer than the bound (tens of seconds
of tokenization), sends it SIGINT once it is running, and checks that the call raised
``KeyboardInterrupt`` well before it could have finished. The bound is generous: this checks that
the call is interrupted at all, not how fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="posix")

# Seconds between SIGINT and the child reporting KeyboardInterrupt.
BOUND = 5.0

CHILD = r"""
import random, signal, sys
# A parent that ignores SIGINT (some test runners' workers do) passes SIG_IGN on to its children.
signal.signal(signal.SIGINT, signal.default_int_handler)
import tokenmill as tm
enc = tm.get_encoding("cl100k_base")
tm.set_num_threads(2)
# 2 MB of 1000-letter random words: a few MB/s per thread (long pieces, no cache hits).
r = random.Random(1)
block = " ".join("".join(r.choices("abcdefghijklmnopqrstuvwxyz", k=1000)) for _ in range(2000))
call = sys.argv[1]
print("ready", flush=True)
try:
    if call == "count_batch":
        enc.count_batch([block] * 200)          # 400 MB: about a minute on two threads
    elif call == "encode_batch":
        enc.encode_batch([block] * 200)
    else:
        enc.count(block * 50)                   # 100 MB in one text: half a minute
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.parametrize("call", ["count_batch", "encode_batch", "count"])
def test_sigint_interrupts_a_long_call(call: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, call],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # well inside the call
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        try:
            out, err = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{call}: SIGINT did not stop the call within 60 s")
        waited = time.monotonic() - sent
        assert out.strip() == "interrupted", (out, err)
        assert waited < BOUND, f"{call}: KeyboardInterrupt {waited:.1f} s after SIGINT"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

"""Runner for the peer-comparison benches: ``python -m benches [--quick] [--json] ...``.

The bench harness itself ships inside the package (``tokenmill bench``) so that users can run it on
their own machine; this entry point forwards to it.
"""

from __future__ import annotations

import sys

from tokenmill.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))

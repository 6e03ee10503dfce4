"""``python -m tokenmill`` runs the CLI."""

import sys

from tokenmill.cli import main

sys.exit(main())

"""One module per CLI subcommand; see ``tokenmill.cli``."""

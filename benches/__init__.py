"""Peer-comparison benches. Run all of them with ``python -m benches`` from the repo root."""

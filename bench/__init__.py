"""Benchmarks of linqbot against its peers; ``python -m bench`` runs them and rewrites ``bench/RESULTS.md``."""

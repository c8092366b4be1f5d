"""The benchmarks: thin scripts run as `python -m bench.<name>` over one kit (`bench.kit`).

Every module directly in `bench/` but this one is a benchmark (`make bench` runs them all, each
ending with one machine-readable `key=value ...` line); what they share is in `bench/kit/`, and no
benchmark imports another.
"""

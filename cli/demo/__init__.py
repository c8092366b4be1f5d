"""The demo city: its geography, catalog, departments, rules and SLA policies, and the loader `python -m cli load-demo` runs."""

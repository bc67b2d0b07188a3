"""Benchmarks run by `manage.py bench` (`make bench`), one module per concern, each with
`run(*, customers, stdout)` against the one synthetic population (devtools.population)."""

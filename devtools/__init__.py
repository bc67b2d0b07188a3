"""Development tools kept out of the domain apps: the synthetic population, the audience simulator
and the benchmarks (`manage.py bench`, `generate_population`, `simulate_audience`). Production code
never imports this package; it may import every app."""

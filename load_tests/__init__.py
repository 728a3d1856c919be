"""Load simulator and benchmarks; run with ``make bench``, never inside ``make test``."""

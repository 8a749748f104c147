"""Benchmarks run by ``make bench``: each module here has a ``main(argv)`` that prints its table.

Targets are ratios measured side by side in one run (never wall-clock asserts in tests).
"""

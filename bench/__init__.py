"""Benchmarks of the whole product on real processes (`python -m bench.pipeline`).

Not part of the installed package (pyproject's `packages.find` leaves `bench` out), so nothing
here, the bare view included, can reach production.
"""

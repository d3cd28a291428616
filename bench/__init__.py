"""Benchmarks of Blaupause: webhook acknowledgement, dialogue turns, tracker stores, crypto.

Why a package of small scripts rather than a pytest plugin: the figures are meant to be read by
people (tables next to their targets, a plot, docs/performance.md), each benchmark must be
runnable alone with its own flags, and none of them belongs in ``make test`` (they take minutes
and their numbers depend on the machine). ``python -m bench.run_all`` runs them all; see
bench/README.md.
"""

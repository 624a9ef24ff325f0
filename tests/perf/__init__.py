"""Benchmarks: ``python -m tests.perf`` (``make bench``); ``--quick`` for a smoke run.

Each benchmark measures uplight against a bare baseline doing the same work in the
same run on the same machine, and reports the ratio: ratios are comparable across
machines, absolute rates are not. Not collected by pytest (see ``norecursedirs``).
"""

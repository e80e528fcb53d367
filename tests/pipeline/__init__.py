"""Tests of the whole pipeline at once: differential fuzzing of every stage against the others,
compiles that fail or are killed, memory limits, and files that must never run code.

``pytest tests/pipeline`` runs the quick profile; ``pytest -m fuzz tests/pipeline -s`` the long
one, which prints how many specs it tried, the ops they used and where the time went.
"""

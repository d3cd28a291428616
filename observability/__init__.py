"""Operator-facing signals: Prometheus metrics, their exposition and the label vocabulary.

Why its own top-level package: the channel, privacy/ (the tracker store) and the action server
all count things, and none of them should import another just for a counter. Like
:mod:`rasa_compat`, it imports nothing of ours. The metric list, the alert rules and the
runbook are in docs/operations.md.
"""

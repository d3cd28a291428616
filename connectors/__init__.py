"""Rasa input/output channels of Blaupause (one sub-package per messaging platform)."""

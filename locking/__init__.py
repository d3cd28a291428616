"""Conversation locks shared by several Rasa instances."""

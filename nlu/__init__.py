"""Custom components of the NLU pipeline (config.yml), run inside Rasa's own parse."""

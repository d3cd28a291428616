"""Custom actions of the Blaupause job-search assistant (served by ``rasa run actions``).

rasa-sdk imports every module of this package and registers each action it finds.
"""

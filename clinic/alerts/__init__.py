"""Alerts shared by every feature (the model and `raise_alert`)."""

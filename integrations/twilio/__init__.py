"""Twilio: its provider class (`provider.py`), its setup values (`setup.py`) and how its
callbacks become call events (`callbacks.py`)."""

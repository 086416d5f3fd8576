"""The static chat page (``static/``), shipped as package data."""

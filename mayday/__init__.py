"""Mayday: the signaling server behind a Help button, and its Python client library."""

__version__ = "0.1.0"

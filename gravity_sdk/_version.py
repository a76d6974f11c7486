"""The one place the Gravity version is written."""

__version__ = "0.1.0"

"""The files service."""

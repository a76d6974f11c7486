"""Piccolo migrations of the users service."""

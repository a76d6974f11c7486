"""Piccolo migrations of the auth service."""

"""Piccolo migrations of the files service."""

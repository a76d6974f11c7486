"""Piccolo migrations of the notifications service."""

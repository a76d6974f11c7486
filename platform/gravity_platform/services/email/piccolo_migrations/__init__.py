"""Piccolo migrations of the email service."""

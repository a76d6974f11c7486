"""Piccolo migrations of the sms service."""

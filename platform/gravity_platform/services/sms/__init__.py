"""The sms service."""

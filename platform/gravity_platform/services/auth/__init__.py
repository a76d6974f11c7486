"""The auth service: OAuth2 tokens, sign-in, sessions, MFA, API keys, signing keys and the audit log."""

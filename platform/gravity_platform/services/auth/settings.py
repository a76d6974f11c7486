"""Settings of the auth service (`[service.auth]` in gravity.toml, `GRAVITY_SERVICE__AUTH__*` in the environment)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AuthSettings(BaseModel):
    """Token lifetimes, throttling and account rules."""

    algorithm: Literal["EdDSA", "ES256"] = "EdDSA"
    access_token_ttl: int = Field(300, ge=30, le=3600)
    refresh_token_ttl: int = Field(30 * 24 * 3600, ge=300)
    refresh_reuse_interval: float = Field(5.0, ge=0, le=60)
    mfa_token_ttl: int = Field(300, ge=30)
    account_token_ttl: int = Field(24 * 3600, ge=300)
    require_email_verification: bool = False
    throttle_account_address: int = Field(10, ge=1, description="failed sign-ins a minute: one account, one address")
    throttle_address: int = Field(30, ge=1, description="failed sign-ins a minute from one address")
    throttle_window: int = Field(60, ge=1)
    password_min_length: int = Field(8, ge=8)
    password_max_length: int = Field(128, ge=64, le=1024)

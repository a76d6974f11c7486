"""JWT signing keys: generated, rotated and sealed by the auth service itself.

The JWKS publishes the `current` key (which signs) and the `next` one (published ahead, so every node
already trusts it when it becomes current). Rotation retires `current`: its tokens stop verifying."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from gravity_platform.kernel.crypto import MasterKey
from gravity_platform.kernel.errors import ServiceUnavailableError
from gravity_platform.kernel.security import ACCESS_TOKEN_TYP
from gravity_platform.services.auth.tables import DB, SigningKey

_AAD = b"gravity-auth-signing-key"


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """The key that signs now."""

    kid: str
    alg: str
    private_key: Any


def _generate(alg: str) -> tuple[Any, dict[str, Any]]:
    if alg == "EdDSA":
        private: Any = ed25519.Ed25519PrivateKey.generate()
        public_jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        public_jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    return private, public_jwk


def _new_row(alg: str, status: str, master_key: MasterKey) -> SigningKey:
    private, public_jwk = _generate(alg)
    kid = secrets.token_urlsafe(12)
    public_jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return SigningKey(kid=kid, alg=alg, private_sealed=master_key.seal(pem, _AAD + kid.encode()),
                      public_jwk=json.dumps(public_jwk), status=status)


class KeyRing:
    """Loads the signing keys, creates the first ones, rotates them and signs access tokens."""

    def __init__(self, master_key: MasterKey, alg: str) -> None:
        self.master_key = master_key
        self.alg = alg
        self._active: ActiveKey | None = None
        self._jwks: dict[str, Any] | None = None

    async def ensure(self) -> None:
        """Create a current and a next key if there are none (idempotent, safe on many nodes at once)."""
        async with DB.engine.transaction():
            await SigningKey.raw("LOCK TABLE signing_key IN EXCLUSIVE MODE")
            for status in ("current", "next"):
                if not await SigningKey.exists().where(SigningKey.status == status):
                    await SigningKey.insert(_new_row(self.alg, status, self.master_key))
        self.forget()

    async def rotate(self) -> str:
        """Retire `current`, promote `next`, create a new `next`. Returns the new current kid."""
        async with DB.engine.transaction():
            await SigningKey.raw("LOCK TABLE signing_key IN EXCLUSIVE MODE")
            await SigningKey.update({SigningKey.status: "retired", SigningKey.retired_at: _now()}).where(
                SigningKey.status == "current")
            await SigningKey.update({SigningKey.status: "current", SigningKey.activated_at: _now()}).where(
                SigningKey.status == "next")
            await SigningKey.insert(_new_row(self.alg, "next", self.master_key))
            current = await SigningKey.select(SigningKey.kid).where(SigningKey.status == "current").first()
        self.forget()
        assert current is not None
        return str(current["kid"])

    def forget(self) -> None:
        """Reload keys on next use."""
        self._active = None
        self._jwks = None

    async def jwks(self) -> dict[str, Any]:
        """The public key set: current and next."""
        if self._jwks is None:
            rows = await SigningKey.select(SigningKey.public_jwk).where(SigningKey.status.is_in(["current", "next"]))
            keys = [json.loads(r["public_jwk"]) if isinstance(r["public_jwk"], str) else r["public_jwk"] for r in rows]
            self._jwks = {"keys": keys}
        return self._jwks

    async def active(self) -> ActiveKey:
        """The current signing key, unsealed."""
        if self._active is None:
            row = await SigningKey.select().where(SigningKey.status == "current").first()
            if row is None:
                raise ServiceUnavailableError("No signing key yet; the auth service is starting")
            pem = self.master_key.open(row["private_sealed"], _AAD + row["kid"].encode())
            private = serialization.load_pem_private_key(pem, password=None)
            self._active = ActiveKey(row["kid"], row["alg"], private)
        return self._active

    async def sign(self, claims: dict[str, Any]) -> str:
        """Sign an access token with the current key (`typ` at+jwt, `kid` set)."""
        key = await self.active()
        return jwt.encode(claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYP})


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(time.time(), UTC)

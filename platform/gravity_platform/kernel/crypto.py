"""The platform master key and AES-256-GCM envelope encryption of secrets and sensitive fields at rest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "g1"
KEY_BYTES = 32


class MasterKeyError(RuntimeError):
    """The master key is missing, unreadable or not 32 bytes."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_master_key_file(path: Path) -> None:
    """Write a new random master key (0600), never overwriting an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(_b64(secrets.token_bytes(KEY_BYTES)) + "\n")


class MasterKey:
    """Wraps per-record data keys; never stored in the database.

    `previous` are retired master keys kept (after `gravity keys rotate-master`) only to open values that were
    sealed under them; everything new is sealed, and every sub-key derived, under the current key."""

    def __init__(self, key: bytes, previous: Sequence[MasterKey] = ()) -> None:
        if len(key) != KEY_BYTES:
            raise MasterKeyError("the master key must be 32 bytes (base64url encoded in its file)")
        self._key = key
        self.key_id = hashlib.sha256(b"gravity-master-key-id" + key).hexdigest()[:8]
        self.previous = tuple(previous)

    @classmethod
    def generate(cls) -> MasterKey:
        """A new random key."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_file(cls, path: Path) -> MasterKey:
        """Read the key from a file or systemd credential: the current key on the first line, retired ones after."""
        try:
            lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
            if not lines:
                raise ValueError("the file is empty")
            keys = [_unb64(line) for line in lines]
            return cls(keys[0], [cls(key) for key in keys[1:]])
        except FileNotFoundError:
            raise MasterKeyError(f"no master key at {path}") from None
        except (OSError, ValueError) as error:
            raise MasterKeyError(f"cannot read the master key at {path}: {error}") from None

    def file_text(self) -> str:
        """What `from_file` reads back: this key, then the retired ones."""
        return "".join(_b64(key._key) + "\n" for key in (self, *self.previous))

    def succeeded_by(self, new: MasterKey) -> MasterKey:
        """`new` as the current key, with this one (and its own retired keys) kept for opening old values."""
        return MasterKey(new._key, [MasterKey(self._key), *self.previous])

    def _by_id(self, key_id: str) -> MasterKey:
        for key in (self, *self.previous):
            if key.key_id == key_id:
                return key
        raise ValueError("sealed with another master key")

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """A sub-key for one purpose (HMAC-SHA256 of the purpose), so one secret serves many without reuse."""
        digest = hmac.new(self._key, purpose.encode(), hashlib.sha256).digest()
        return digest[:length]

    def derive_password(self, purpose: str) -> str:
        """A printable password derived for one purpose (e.g. a service's database role)."""
        return _b64(self.derive(f"password:{purpose}"))

    def seal(self, plaintext: bytes, aad: bytes = b"") -> str:
        """Encrypt with a fresh data key, itself wrapped by the master key; `aad` binds the record."""
        data_key = AESGCM.generate_key(bit_length=256)
        wrap_nonce, data_nonce = secrets.token_bytes(12), secrets.token_bytes(12)
        wrapped = AESGCM(self._key).encrypt(wrap_nonce, data_key, self.key_id.encode())
        ciphertext = AESGCM(data_key).encrypt(data_nonce, plaintext, aad)
        parts = [_VERSION, self.key_id, _b64(wrap_nonce + wrapped), _b64(data_nonce + ciphertext)]
        return ".".join(parts)

    def open(self, sealed: str, aad: bytes = b"") -> bytes:
        """Decrypt what `seal` produced; raises ValueError on tampering or a wrong key."""
        try:
            version, key_id, wrapped, body = sealed.split(".")
            if version != _VERSION:
                raise ValueError("sealed in an unknown format")
            raw_wrap, raw_body = _unb64(wrapped), _unb64(body)
            data_key = AESGCM(self._by_id(key_id)._key).decrypt(raw_wrap[:12], raw_wrap[12:], key_id.encode())
            return AESGCM(data_key).decrypt(raw_body[:12], raw_body[12:], aad)
        except ValueError:
            raise
        except Exception as error:
            raise ValueError("cannot open sealed value") from error

    def is_current(self, sealed: str) -> bool:
        """Whether `sealed` is wrapped under the current key (and so needs no re-wrapping)."""
        return sealed.split(".")[1:2] == [self.key_id]

    def rewrap(self, sealed: str, new: MasterKey | None = None) -> str:
        """Re-wrap a sealed value's data key under `new` (default: the current key), leaving its ciphertext as is.

        The value may be wrapped under this key or any retired one."""
        target = new or self
        version, key_id, wrapped, body = sealed.split(".")
        raw_wrap = _unb64(wrapped)
        data_key = AESGCM(self._by_id(key_id)._key).decrypt(raw_wrap[:12], raw_wrap[12:], key_id.encode())
        nonce = secrets.token_bytes(12)
        rewrapped = AESGCM(target._key).encrypt(nonce, data_key, target.key_id.encode())
        return ".".join([version, target.key_id, _b64(nonce + rewrapped), body])

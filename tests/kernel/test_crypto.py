"""The master key: envelope encryption (seal/open), tamper detection, AAD binding and re-wrapping."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gravity_platform.kernel.crypto import KEY_BYTES, MasterKey, MasterKeyError, _b64, _unb64, generate_master_key_file


def new_key() -> MasterKey:
    return MasterKey(secrets.token_bytes(KEY_BYTES))


KEY = new_key()


@settings(max_examples=60, deadline=None, database=None)
@given(plaintext=st.binary(max_size=4096), aad=st.binary(max_size=64))
def test_seal_open_round_trip(plaintext: bytes, aad: bytes) -> None:
    sealed = KEY.seal(plaintext, aad)
    assert isinstance(sealed, str)
    assert KEY.open(sealed, aad) == plaintext


def test_each_seal_is_fresh() -> None:
    first, second = KEY.seal(b"same"), KEY.seal(b"same")
    assert first != second, "a new data key and nonces every time"
    assert KEY.open(first) == KEY.open(second) == b"same"


def test_sealed_format_names_version_and_key() -> None:
    version, key_id, wrapped, body = KEY.seal(b"x").split(".")
    assert version == "g1"
    assert key_id == KEY.key_id
    assert len(_unb64(wrapped)) == 12 + 32 + 16, "nonce, data key, tag"
    assert len(_unb64(body)) == 12 + 1 + 16


@pytest.mark.parametrize("part", [2, 3])
def test_tampering_is_detected(part: int) -> None:
    parts = KEY.seal(b"the secret", b"row-1").split(".")
    raw = bytearray(_unb64(parts[part]))
    for position in (0, len(raw) // 2, len(raw) - 1):
        flipped = bytearray(raw)
        flipped[position] ^= 0x01
        tampered = ".".join([*parts[:part], _b64(bytes(flipped)), *parts[part + 1:]])
        with pytest.raises(ValueError, match=r"."):
            KEY.open(tampered, b"row-1")


@pytest.mark.parametrize("mangled", ["", "g1", "g1.a.b", "g1.a.b.c.d", "g2.x.y.z", "not base64 at all...."])
def test_garbage_is_refused_with_value_error(mangled: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        KEY.open(mangled)


def test_wrong_aad_is_refused() -> None:
    sealed = KEY.seal(b"secret", b"user:1")
    with pytest.raises(ValueError, match=r"."):
        KEY.open(sealed, b"user:2")
    with pytest.raises(ValueError, match=r"."):
        KEY.open(sealed)
    assert KEY.open(sealed, b"user:1") == b"secret"


def test_another_master_key_cannot_open() -> None:
    sealed = KEY.seal(b"secret")
    with pytest.raises(ValueError, match="another master key"):
        new_key().open(sealed)
    forged_id = sealed.replace(KEY.key_id, (other := new_key()).key_id, 1)
    with pytest.raises(ValueError, match=r"."):
        other.open(forged_id)


def test_rewrap_to_a_new_master_key() -> None:
    old, new = new_key(), new_key()
    sealed = old.seal(b"payload", b"aad")
    rewrapped = old.rewrap(sealed, new)
    assert rewrapped.split(".")[3] == sealed.split(".")[3], "the ciphertext itself is untouched"
    assert rewrapped.split(".")[1] == new.key_id
    assert new.open(rewrapped, b"aad") == b"payload"
    with pytest.raises(ValueError, match=r"."):
        old.open(rewrapped, b"aad")
    with pytest.raises(ValueError, match=r"."):
        new.open(rewrapped, b"other aad")
    with pytest.raises(ValueError, match="another master key"):
        new.rewrap(sealed, old)


def test_derived_secrets_are_stable_and_separate() -> None:
    key = new_key()
    assert key.derive("a") == key.derive("a")
    assert key.derive("a") != key.derive("b")
    assert key.derive_password("db-role:auth") != key.derive_password("db-role:users")
    assert key.derive("a") != new_key().derive("a")
    assert len(key.derive("a", 16)) == 16


def test_key_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "master.key"
    generate_master_key_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = MasterKey.from_file(path)
    assert MasterKey.from_file(path).key_id == key.key_id
    with pytest.raises(FileExistsError):
        generate_master_key_file(path)
    assert MasterKey.from_file(path).key_id == key.key_id, "never overwritten"


def test_bad_key_files(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="no master key"):
        MasterKey.from_file(tmp_path / "missing.key")
    short = tmp_path / "short.key"
    short.write_text(_b64(b"x" * 16))
    with pytest.raises(MasterKeyError, match="32 bytes"):
        MasterKey.from_file(short)
    with pytest.raises(MasterKeyError):
        MasterKey(b"\x00" * 31)


def test_a_retired_key_still_opens_what_it_sealed(tmp_path: Path) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    sealed = old.seal(b"secret", b"aad")
    rotated = old.succeeded_by(new)
    path = tmp_path / "master.key"
    path.write_text(rotated.file_text())
    reread = MasterKey.from_file(path)
    assert reread.key_id == new.key_id
    assert [key.key_id for key in reread.previous] == [old.key_id]
    assert reread.open(sealed, b"aad") == b"secret"
    assert not reread.is_current(sealed)
    rewrapped = reread.rewrap(sealed)
    assert reread.is_current(rewrapped)
    assert new.open(rewrapped, b"aad") == b"secret"
    with pytest.raises(ValueError, match="another master key"):
        old.open(rewrapped, b"aad")


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text("\n")
    with pytest.raises(MasterKeyError, match="empty"):
        MasterKey.from_file(path)

"""X-Twilio-Signature: HMAC-SHA1, keyed with the auth token, over the full URL Twilio requested followed by
each POST parameter's name and value in order of name, base64-encoded (twilio.com/docs/usage/security)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

Params = Mapping[str, str] | Iterable[tuple[str, str]]

_DEFAULT_PORTS = {"https": 443, "http": 80}


def _pairs(params: Params) -> list[tuple[str, str]]:
    items = params.items() if isinstance(params, Mapping) else params
    return sorted(set(items))


def compute_signature(auth_token: str, url: str, params: Params) -> str:
    """The signature Twilio sends for a request to `url` with the form `params` (repeated names allowed)."""
    data = url + "".join(name + value for name, value in _pairs(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> Sequence[str]:
    """`url` with and without its scheme's default port: Twilio may sign either form."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    if default is None or parts.hostname is None:
        return [url]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    if parts.port not in (None, default):
        return [url]
    bare = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    ported = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}"))
    return [url, *(variant for variant in (bare, ported) if variant != url)]


def validate_signature(auth_token: str, url: str, params: Params, signature: str | None) -> bool:
    """Whether `signature` is Twilio's for this request (compared in constant time)."""
    if not signature:
        return False
    pairs = _pairs(params)
    return any(hmac.compare_digest(compute_signature(auth_token, candidate, pairs).encode(), signature.encode())
               for candidate in url_variants(url))

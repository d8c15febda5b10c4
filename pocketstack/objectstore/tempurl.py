"""Temporary URLs: an object GET/HEAD/PUT allowed by an HMAC signature instead of a token.

Follows Swift's ``tempurl`` middleware (``swift/common/middleware/tempurl.py``) and api-ref
("Temporary URL middleware"): the signature is ``HMAC(key, "<METHOD>\\n<expires>\\n<path>")``
with SHA-1 or SHA-256 as hex digest (or ``<digest>:<base64>``), keyed by the account's
``X-Account-Meta-Temp-URL-Key``/``-Key-2`` or the container's ``X-Container-Meta-...``;
``temp_url_expires`` is a Unix time (or ISO 8601 ``YYYY-MM-DDTHH:MM:SSZ``). A signature is
bound to its method (a GET/PUT signature also allows HEAD) and its path.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable

from pocketstack.common import errors

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
_HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}


def _unauthorized() -> errors.Unauthorized:
    return errors.Unauthorized("Unauthorized. This server could not verify your temp URL.")


def parse_expires(value: str) -> int:
    """``temp_url_expires`` as a Unix time: digits, or ``YYYY-MM-DDTHH:MM:SSZ``; else 401."""
    if value.isdigit():
        return int(value)
    try:
        return calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        raise _unauthorized() from None


def _split_signature(sig: str) -> tuple[str, bytes]:
    """``(digest name, raw signature)`` from hex or ``<digest>:<base64>``; else 401."""
    if ":" in sig:
        name, _, encoded = sig.partition(":")
        if name not in DIGESTS:
            raise _unauthorized()
        try:
            return name, base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise _unauthorized() from None
    name = _HEX_LENGTHS.get(len(sig), "")
    try:
        return name or "sha1", bytes.fromhex(sig)
    except ValueError:
        raise _unauthorized() from None


def sign(key: str, method: str, expires: int, path: str, digest: str = "sha256") -> str:
    """The hex signature a client would send (for tests and docs)."""
    body = f"{method}\n{expires}\n{path}"
    return hmac.new(key.encode(), body.encode(), DIGESTS[digest]).hexdigest()


def verify(
    method: str,
    paths: Iterable[str],
    sig: str,
    expires_value: str,
    keys: Iterable[str],
    now: Callable[[], float] = time.time,
) -> None:
    """Return when the signature is valid for ``method`` on one of ``paths`` (the same object
    path as the client may have signed it) with one of ``keys``, unexpired; else 401.

    HEAD is allowed by a signature made for HEAD, GET or PUT (as Swift).
    """
    expires = parse_expires(expires_value)
    if expires < now():
        raise _unauthorized()
    name, raw = _split_signature(sig)
    methods = ("HEAD", "GET", "PUT") if method == "HEAD" else (method,)
    for key in [k for k in keys if k]:
        for path in paths:
            for signed_method in methods:
                body = f"{signed_method}\n{expires}\n{path}".encode()
                expected = hmac.new(key.encode(), body, DIGESTS[name]).digest()
                if hmac.compare_digest(expected, raw):
                    return
    raise _unauthorized()

"""Swift's constraints: name and metadata limits, as ``/info`` advertises them.

Follows ``swift/common/constraints.py`` (the defaults of ``swift.conf``'s
``[swift-constraints]``): a name that is not UTF-8 or holds a NUL is 412, a container name
over 256 bytes, an object name over 1024 bytes or too much metadata is 400.
"""

from __future__ import annotations

from collections.abc import Mapping

from pocketstack.objectstore.exceptions import BadName, PreconditionFailed
from pocketstack.objectstore.utils import (  # noqa: E402  (the limits are the nodes' too)
    ACCOUNT_LISTING_LIMIT,
    CONTAINER_LISTING_LIMIT,
    MAX_ACCOUNT_NAME_LENGTH,
    MAX_CONTAINER_NAME_LENGTH,
    MAX_FILE_SIZE,
    MAX_META_COUNT,
    MAX_META_NAME_LENGTH,
    MAX_META_OVERALL_SIZE,
    MAX_META_VALUE_LENGTH,
    MAX_OBJECT_NAME_LENGTH,
)

MAX_HEADER_SIZE = 8192
#: the accounts this proxy serves: ``AUTH_<project_id>`` (Swift's keystoneauth reseller prefix)
RESELLER_PREFIX = "AUTH_"

#: what ``GET /info`` tells under "swift"
LIMITS = {
    "max_file_size": MAX_FILE_SIZE,
    "max_meta_name_length": MAX_META_NAME_LENGTH,
    "max_meta_value_length": MAX_META_VALUE_LENGTH,
    "max_meta_count": MAX_META_COUNT,
    "max_meta_overall_size": MAX_META_OVERALL_SIZE,
    "max_header_size": MAX_HEADER_SIZE,
    "max_object_name_length": MAX_OBJECT_NAME_LENGTH,
    "max_container_name_length": MAX_CONTAINER_NAME_LENGTH,
    "max_account_name_length": MAX_ACCOUNT_NAME_LENGTH,
    "container_listing_limit": CONTAINER_LISTING_LIMIT,
    "account_listing_limit": ACCOUNT_LISTING_LIMIT,
    "extra_header_count": 0,
    "valid_api_versions": ["v1"],
}


def check_utf8(name: str, what: str) -> None:
    """412 unless ``name`` is valid UTF-8 without NUL (the path arrives percent-decoded as
    latin-1-safe text; surrogates mean undecodable bytes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise PreconditionFailed(f"Invalid UTF8 or contains NULL in {what} name") from None
    if "\x00" in name:
        raise PreconditionFailed(f"Invalid UTF8 or contains NULL in {what} name")


def check_container_name(name: str) -> None:
    """400/412 for a container name Swift refuses (length in bytes, ``.``, ``..``)."""
    check_utf8(name, "container")
    size = len(name.encode("utf-8"))
    if size > MAX_CONTAINER_NAME_LENGTH:
        raise BadName(f"Container name length of {size} longer than {MAX_CONTAINER_NAME_LENGTH}")
    if name in (".", ".."):
        raise BadName("Container name cannot be . or ..")


def check_object_name(name: str) -> None:
    """400/412 for an object name Swift refuses (over 1024 bytes, not UTF-8, NUL)."""
    check_utf8(name, "object")
    size = len(name.encode("utf-8"))
    if size > MAX_OBJECT_NAME_LENGTH:
        raise BadName(f"Object name length of {size} longer than {MAX_OBJECT_NAME_LENGTH}")


def check_metadata(headers: Mapping[str, str], kind: str) -> None:
    """400 when the ``X-<Kind>-Meta-*`` headers pass Swift's per-item or overall limits.

    Args:
        headers: the request headers (case-insensitive mapping).
        kind: ``account``, ``container`` or ``object``.
    """
    prefix = f"x-{kind}-meta-"
    count = 0
    size = 0
    for key, value in headers.items():
        key = key.lower()
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        if not name:
            raise BadName("Metadata name cannot be empty")
        if len(name) > MAX_META_NAME_LENGTH:
            raise BadName(f"Metadata name too long; max {MAX_META_NAME_LENGTH}")
        if len(value) > MAX_META_VALUE_LENGTH:
            raise BadName(f"Metadata value longer than {MAX_META_VALUE_LENGTH}")
        count += 1
        size += len(name) + len(value)
    if count > MAX_META_COUNT:
        raise BadName(f"Too many metadata items; max {MAX_META_COUNT}")
    if size > MAX_META_OVERALL_SIZE:
        raise BadName(f"Total metadata too large; max {MAX_META_OVERALL_SIZE}")


def project_of(account: str) -> str | None:
    """The project id of ``AUTH_<project_id>``, or None for an account of another prefix."""
    if account.startswith(RESELLER_PREFIX) and len(account) > len(RESELLER_PREFIX):
        return account[len(RESELLER_PREFIX) :]
    return None

"""Placement API microversions (``OpenStack-API-Version: placement 1.x``).

No header means 1.0, ``latest`` the maximum; a version outside ``[MIN_VERSION,
MAX_VERSION]`` is 406 and a malformed one 400, as Placement answers. Every answer carries
``OpenStack-API-Version: placement <version>`` and ``Vary: OpenStack-API-Version``.

``MAX_VERSION`` 1.39 (what osc-placement negotiates). The changes up to it that shape what is
served here: aggregates (1.1), custom resource classes (1.2, ``PUT`` to create 1.7),
``member_of`` (1.3, repeated 1.24, ``!`` 1.32), ``resources`` filter (1.4), ``DELETE`` of all
inventory (1.5), traits (1.6), required ``project_id``/``user_id`` (1.8), ``/usages``
(1.9), allocation candidates (1.10, dict allocations 1.12, ``limit`` 1.16, ``required``
1.17, ``member_of`` 1.21, ``!`` forbidden traits 1.22, all classes in summaries 1.27,
parent/root 1.29, ``in_tree`` 1.31, ``mappings`` 1.34), provider allocations links (1.11),
``POST /allocations`` (1.13), nested providers (1.14), ``required`` on providers (1.18),
aggregates with generation (1.19), ``POST /resource_providers`` answering the provider
(1.20), error codes (1.23), reserved equal to total (1.26), consumer generations (1.28),
consumer types (1.38), ``in:`` any-of traits (1.39). Not served: ``/reshaper`` (1.30),
granular request groups (1.25, 1.33, 1.35, 1.36): 400.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import ApiRequest, ApiResponse, RouteSpec, route

MIN_VERSION = (1, 0)
MAX_VERSION = (1, 39)
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


def fmt(version: tuple[int, int]) -> str:
    """``(1, 28)`` -> ``"1.28"``."""
    return f"{version[0]}.{version[1]}"


def requested_version(headers: Any) -> tuple[int, int]:
    """The version a request asks for.

    Raises:
        errors.BadRequest: malformed. errors.NotAcceptable (406): out of range.
    """
    text = None
    for part in (headers.get("openstack-api-version") or "").split(","):
        service, _, value = part.strip().partition(" ")
        if service.lower() == "placement" and value.strip():
            text = value.strip()
    if text is None:
        return MIN_VERSION
    if text.lower() == "latest":
        return MAX_VERSION
    match = _VERSION_RE.match(text)
    if not match:
        raise errors.BadRequest(f"invalid version string: {text}")
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise errors.NotAcceptable(f"Unacceptable version header: {text}")
    return version


def version_headers(version: tuple[int, int]) -> dict[str, str]:
    """The answer's headers naming ``version``."""
    return {
        "OpenStack-API-Version": f"placement {fmt(version)}",
        "Vary": "OpenStack-API-Version",
    }


def response_headers(headers: Any) -> dict[str, str]:
    """The ``ServiceAPI`` hook: every answer's version headers, errors included."""
    try:
        return version_headers(requested_version(headers))
    except errors.PocketError as err:
        err.headers = {**version_headers(MIN_VERSION), **err.headers}
        raise


def at_least(req: ApiRequest, minor: int) -> bool:
    """Whether the request's version is 1.``minor`` or later."""
    version: tuple[int, int] = getattr(req, "api_version", MIN_VERSION)
    return version >= (1, minor)


def require(req: ApiRequest, minor: int) -> None:
    """Placement's 404 for a route below the microversion that added it."""
    if not at_least(req, minor):
        raise errors.NotFound("The resource could not be found.")


def _versioned(
    handler: Callable[[ApiRequest], Any], status: int, minor: int
) -> Callable[[ApiRequest], Any]:
    """Set ``req.api_version``, refuse versions before ``minor``, wrap a bare dict in the
    status."""

    def wrapper(req: ApiRequest) -> Any:
        req.api_version = requested_version(req.headers)  # type: ignore[attr-defined]
        require(req, minor)
        result = handler(req)
        if isinstance(result, dict):
            return ApiResponse(status=status, body=result)
        return result

    wrapper.__name__ = getattr(handler, "__name__", "handler")
    wrapper.__doc__ = handler.__doc__
    return wrapper


def placement_route(
    method: str,
    path: str,
    handler: Callable[[ApiRequest], Any],
    *,
    status: int = 200,
    schema: Mapping[str, Any] | None = None,
    since: int = 0,
) -> RouteSpec:
    """One Placement route, served from microversion 1.``since``."""
    spec = route(method, path, _versioned(handler, status, since), status=status, schema=schema)
    return dataclasses.replace(spec)

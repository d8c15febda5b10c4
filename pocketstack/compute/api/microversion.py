"""Compute API microversions: reading the request's version and answering with it.

Clients ask with ``OpenStack-API-Version: compute X.Y`` (or the older
``X-OpenStack-Nova-API-Version: X.Y``); no header means the minimum, ``latest`` the maximum.
Every response (errors too) names the version used in both headers plus ``Vary``; a version
outside ``[MIN_VERSION, MAX_VERSION]`` is 406, a malformed one 400.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import ApiRequest, ApiResponse, RouteSpec, route
from pocketstack.common.validation import BodySchema

MIN_VERSION = (2, 1)
#: The highest microversion whose shapes this API implements (see ``compute.api``): what
#: current openstacksdk and the ``openstack`` CLI ask for with ``latest``. What each version
#: changes is implemented where the shape is made (``views``, the handlers, ``schemas``).
MAX_VERSION = (2, 96)

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


def fmt(version: tuple[int, int]) -> str:
    """``(2, 1)`` → ``"2.1"``."""
    return f"{version[0]}.{version[1]}"


def requested_version(headers: Any) -> tuple[int, int]:
    """The microversion a request asks for.

    Raises:
        errors.BadRequest: a malformed version string.
        errors.NotAcceptable: a version this API does not serve (406).
    """
    text = None
    for part in (headers.get("openstack-api-version") or "").split(","):
        service, _, value = part.strip().partition(" ")
        if service.lower() == "compute" and value.strip():
            text = value.strip()
    if text is None:
        text = (headers.get("x-openstack-nova-api-version") or "").strip() or None
    if text is None:
        return MIN_VERSION
    if text.lower() == "latest":
        return MAX_VERSION
    match = _VERSION_RE.match(text)
    if not match:
        raise errors.BadRequest(
            f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
        )
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise errors.NotAcceptable(
            f"Version {text} is not supported by the API. Minimum is "
            f"{fmt(MIN_VERSION)} and maximum is {fmt(MAX_VERSION)}."
        )
    return version


def api_version(req: ApiRequest) -> tuple[int, int]:
    """The microversion of a request (``MIN_VERSION`` outside a compute route)."""
    return getattr(req, "api_version", MIN_VERSION)


def at_least(req: ApiRequest, major: int, minor: int) -> bool:
    """True when the request's microversion is ``major.minor`` or later."""
    return api_version(req) >= (major, minor)


def refuse_newer(
    req: ApiRequest,
    body: Mapping[str, Any],
    added: Mapping[str, tuple[int, int]],
    field: str,
) -> None:
    """Refuse attributes of ``body`` that a later microversion than the request's added
    (``added``: attribute → the version that brought it), as the older version's schema
    does in Nova; ``field``: the object's name in the message (``server``, ``keypair``).

    Raises:
        errors.BadRequest: ``Additional properties are not allowed ('x' was unexpected)``.
    """
    version = api_version(req)
    unexpected = sorted(k for k, v in added.items() if k in body and version < v)
    if unexpected:
        names = ", ".join(repr(k) for k in unexpected)
        verb = "was" if len(unexpected) == 1 else "were"
        raise errors.BadRequest(
            "Invalid input for field/attribute "
            f"{field}. Value: {dict(body)!r}. "
            f"Additional properties are not allowed ({names} {verb} unexpected)"
        )


def version_headers(version: tuple[int, int]) -> dict[str, str]:
    """The response headers naming ``version``."""
    return {
        "OpenStack-API-Version": f"compute {fmt(version)}",
        "X-OpenStack-Nova-API-Version": fmt(version),
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    }


def versioned(handler: Callable[[ApiRequest], Any], status: int) -> Callable[[ApiRequest], Any]:
    """Wrap a handler: set ``req.api_version`` and add the version headers to its answer."""

    def wrapper(req: ApiRequest) -> Any:
        version = MIN_VERSION
        try:
            version = requested_version(req.headers)
            req.api_version = version  # type: ignore[attr-defined]
            result = handler(req)
        except errors.PocketError as err:
            err.headers = {**version_headers(version), **err.headers}
            raise
        if isinstance(result, ApiResponse):
            result.headers = {**version_headers(version), **result.headers}
            return result
        if result is None:
            return ApiResponse(
                status=204 if status == 200 else status, headers=version_headers(version)
            )
        return ApiResponse(status=status, body=result, headers=version_headers(version))

    wrapper.__name__ = getattr(handler, "__name__", "handler")
    wrapper.__doc__ = handler.__doc__
    return wrapper


def response_headers(headers: Any) -> dict[str, str]:
    """The microversion headers every Compute answer carries, errors included: the
    ``response_headers`` hook of the Compute ``ServiceAPI``, run before the body is read.

    Raises:
        errors.BadRequest, errors.NotAcceptable: as ``requested_version``; the error carries
            the minimum version's headers (Nova answers a bad version this way).
    """
    try:
        return version_headers(requested_version(headers))
    except errors.PocketError as err:
        err.headers = {**version_headers(MIN_VERSION), **err.headers}
        raise


def compute_route(
    method: str,
    path: str,
    handler: Callable[[ApiRequest], Any],
    *,
    status: int = 200,
    auth: bool = True,
    schema: Mapping[str, Any] | BodySchema | None = None,
) -> RouteSpec:
    """``route(...)`` for a Compute v2.1 handler (microversion-aware); ``schema`` is the
    request body's JSON schema (see ``pocketstack.common.validation``), compiled as a
    a ``BodySchema``, or one already built such as ``schemas.ActionSchema``
    (API reference: "Servers - run an action")."""
    spec = route(method, path, versioned(handler, status), auth=auth, status=status)
    if schema is None:
        return spec
    if not isinstance(schema, BodySchema):
        schema = BodySchema(schema)
    return dataclasses.replace(spec, schema=schema)

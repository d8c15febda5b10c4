"""Block Storage API microversions (``OpenStack-API-Version: volume 3.x``).

No header means 3.0, ``latest`` the maximum; a version outside ``[MIN_VERSION,
MAX_VERSION]`` is 406 and a malformed one 400, as Cinder answers
(``cinder/api/openstack/api_version_request.py``). Every answer carries
``OpenStack-API-Version: volume <version>`` and ``Vary: OpenStack-API-Version``.

``MAX_VERSION`` 3.66: the changes of 3.1-3.66 to the resources served here are
implemented: ``/volumes/summary`` (3.12, ``metadata`` 3.36), ``force`` on volume delete
(3.23), attachments (3.27, ``os-complete`` 3.44, ``mode`` 3.54), ``name~`` like filters
(3.34), ``project_id`` in ``/limits`` (3.39), snapshots' ``user_id`` (3.41), extending an
in-use volume (3.42), ``with_count`` (3.45), ``shared_targets``/``service_uuid`` (3.48),
``backend_state`` (3.49), ``created_at``/``updated_at`` filters (3.60), ``volume_type_id``
(3.63), ``encryption_key_id`` (3.64), ``consumes_quota`` (3.65), snapshots of in-use
volumes without ``force`` (3.66). Not here, at any version: revert to snapshot (3.40),
volumes from a backup in ``POST /volumes`` (3.47: ``backup restore`` instead), multiattach
(3.50: refused with 400), the default-types API (3.62), and Cinder's APIs this cloud has no
resource for (groups, messages, clusters, workers, manageable volumes, transfers, QoS,
pools): 404. Routes without ``{project_id}`` (3.67's form) are served at every version.

Handlers registered with ``volume_route`` get ``req.api_version`` as ``(3, minor)``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import ApiRequest, ApiResponse, RouteSpec, route
from pocketstack.common.validation import BodySchema

MIN_VERSION = (3, 0)
MAX_VERSION = (3, 66)
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


def fmt(version: tuple[int, int]) -> str:
    """``(3, 44)`` -> ``"3.44"``."""
    return f"{version[0]}.{version[1]}"


def requested_version(headers: Any) -> tuple[int, int]:
    """The version a request asks for.

    Raises:
        errors.BadRequest: a malformed version. errors.NotAcceptable (406): out of range.
    """
    text = None
    for part in (headers.get("openstack-api-version") or "").split(","):
        service, _, value = part.strip().partition(" ")
        if service.lower() in ("volume", "block-storage") and value.strip():
            text = value.strip()
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
            f"Version {text} is not supported by the API. Minimum is {fmt(MIN_VERSION)} "
            f"and maximum is {fmt(MAX_VERSION)}."
        )
    return version


def version_headers(version: tuple[int, int]) -> dict[str, str]:
    """The answer's headers naming ``version``."""
    return {"OpenStack-API-Version": f"volume {fmt(version)}", "Vary": "OpenStack-API-Version"}


def response_headers(headers: Any) -> dict[str, str]:
    """The ``ServiceAPI`` hook: every answer's version headers, errors included.

    Raises:
        errors.BadRequest, errors.NotAcceptable: as ``requested_version`` (with 3.0's
        headers).
    """
    try:
        return version_headers(requested_version(headers))
    except errors.PocketError as err:
        err.headers = {**version_headers(MIN_VERSION), **err.headers}
        raise


def at_least(req: ApiRequest, minor: int) -> bool:
    """Whether the request's version is 3.``minor`` or later."""
    version: tuple[int, int] = getattr(req, "api_version", MIN_VERSION)
    return version >= (3, minor)


def require(req: ApiRequest, minor: int) -> None:
    """Raise Cinder's 404 ``VersionNotFoundForAPIMethod`` below 3.``minor``."""
    if not at_least(req, minor):
        version = fmt(getattr(req, "api_version", MIN_VERSION))
        raise errors.NotFound(f"API version {version} is not supported on this method.")


def _versioned(handler: Callable[[ApiRequest], Any], status: int) -> Callable[[ApiRequest], Any]:
    """Set ``req.api_version``, check the URL's project, wrap a bare dict in the status."""

    def wrapper(req: ApiRequest) -> Any:
        req.api_version = requested_version(req.headers)  # type: ignore[attr-defined]
        project = req.params.get("project_id")
        if project is not None and project != req.ctx.project_id:
            raise errors.BadRequest("Malformed request url")
        result = handler(req)
        if isinstance(result, dict):
            return ApiResponse(status=status, body=result)
        return result

    wrapper.__name__ = getattr(handler, "__name__", "handler")
    wrapper.__doc__ = handler.__doc__
    return wrapper


def volume_route(
    method: str,
    path: str,
    handler: Callable[[ApiRequest], Any],
    *,
    status: int = 200,
    schema: Mapping[str, Any] | BodySchema | None = None,
) -> list[RouteSpec]:
    """The two routes of one Cinder v3 path (relative to ``/v3``): without the project
    (3.67's form) and under ``/v3/{project_id}`` (the catalog's older form); the URL's
    project must be the token's (Cinder's 400 "Malformed request url")."""
    specs = []
    for prefix in ("/v3", "/v3/{project_id}"):
        spec = route(method, prefix + path, _versioned(handler, status), status=status)
        if schema is not None:
            compiled = schema if isinstance(schema, BodySchema) else BodySchema(schema)
            spec = dataclasses.replace(spec, schema=compiled)
        specs.append(spec)
    return specs

"""Query parameters shared by ``GET /resource_providers`` and ``GET
/allocation_candidates``, parsed into the managers' typed filters (400 ``InvalidQuery``
with Placement's wording for a malformed one)."""

from __future__ import annotations

import re

from pocketstack.common.http import ApiRequest
from pocketstack.placement import exceptions as exc
from pocketstack.placement.api.microversions import at_least
from pocketstack.placement.resource_providers import ProviderFilters

_RESOURCE = re.compile(r"^([A-Z0-9_]+):(\d+)$")
_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
#: query keys of granular request groups (``resources1``, ``required_NET``...)
_GRANULAR = re.compile(r"^(resources|required|member_of|in_tree)[0-9A-Za-z_-]+$")


def resources(req: ApiRequest, text: str) -> dict[str, int]:
    """``VCPU:2,MEMORY_MB:1024`` -> ``{"VCPU": 2, "MEMORY_MB": 1024}``; every class must
    exist and every amount be at least 1."""
    out: dict[str, int] = {}
    for part in text.split(","):
        match = _RESOURCE.match(part.strip())
        if not match:
            raise exc.InvalidQuery(
                "Badly formed resources parameter. Expected resources query string parameter "
                f"in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: {text}."
            )
        rc, amount = match.group(1), int(match.group(2))
        if amount < 1:
            raise exc.InvalidQuery(
                f"Requested resource {rc} expected positive integer amount. Got: {amount}."
            )
        if rc in out:
            raise exc.InvalidQuery(f"Resource {rc} appears more than once in {text}.")
        if not req.cloud.placement.resource_classes.exists(req.ctx, rc):
            raise exc.InvalidQuery(f"Invalid resource class in resources parameter: {rc}")
        out[rc] = amount
    return out


def _traits(
    req: ApiRequest, values: list[str]
) -> tuple[list[str], list[tuple[str, ...]], list[str]]:
    required: list[str] = []
    any_of: list[tuple[str, ...]] = []
    forbidden: list[str] = []
    for value in values:
        if value.startswith("in:"):
            if not at_least(req, 39):
                raise exc.InvalidQuery(f"Invalid query string parameters: required={value}")
            group = tuple(n.strip() for n in value[3:].split(",") if n.strip())
            any_of.append(group)
            continue
        for name in (n.strip() for n in value.split(",")):
            if name.startswith("!") and at_least(req, 22):
                forbidden.append(name[1:])
            elif name:
                required.append(name)
    names = [*required, *forbidden, *(n for g in any_of for n in g)]
    if not names and values:
        raise exc.InvalidQuery(
            "Invalid query string parameters: Expected 'required' parameter value of the form: "
            "HW_CPU_X86_VMX,CUSTOM_MAGIC."
        )
    req.cloud.placement.traits.check_exist(req.ctx, names)
    return required, any_of, forbidden


def _member_of(req: ApiRequest, values: list[str]) -> tuple[list[tuple[str, ...]], list[str]]:
    if len(values) > 1 and not at_least(req, 24):
        raise exc.InvalidQuery("Multiple member_of parameters are not supported")
    groups: list[tuple[str, ...]] = []
    forbidden: list[str] = []
    for value in values:
        negate = value.startswith("!") and at_least(req, 32)
        text = value[1:] if negate else value
        aggs = tuple(a.strip() for a in (text[3:] if text.startswith("in:") else text).split(","))
        if not aggs or not all(_UUID.match(a) for a in aggs):
            raise exc.InvalidQuery(
                f"Invalid query string parameters: Expected 'member_of' parameter to contain "
                f"valid UUID(s). Got: {value}"
            )
        if negate:
            forbidden.extend(aggs)
        else:
            groups.append(aggs)
    return groups, forbidden


def filters(req: ApiRequest, with_names: bool) -> ProviderFilters:
    """The ``ProviderFilters`` of the request's ``name``/``uuid`` (``with_names``),
    ``member_of``, ``required``, ``in_tree``.

    Raises:
        InvalidQuery (400): malformed values, unknown traits, granular groups.
    """
    for key in req.query.keys():
        if _GRANULAR.match(key) and key not in ("member_of",):
            raise exc.InvalidQuery(
                f"Invalid query string parameters: granular group {key} is not supported."
            )
    groups, forbidden_aggs = _member_of(req, req.query_all("member_of"))
    required, any_of, forbidden = _traits(req, req.query_all("required"))
    in_tree = req.query.get("in_tree")
    if in_tree is not None and not _UUID.match(in_tree):
        raise exc.InvalidQuery(f"Invalid uuid value: {in_tree}")
    return ProviderFilters(
        name=req.query.get("name") if with_names else None,
        uuid=req.query.get("uuid") if with_names else None,
        member_of=tuple(groups),
        forbidden_aggregates=tuple(forbidden_aggs),
        required=tuple(required),
        required_any=tuple(any_of),
        forbidden=tuple(forbidden),
        in_tree=in_tree,
    )

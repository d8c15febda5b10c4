"""AggregateInstanceExtraSpecsFilter: a flavor's extra specs ``aggregate_instance_extra_specs:
<key>`` (and unscoped ``<key>``) must match the metadata of an aggregate the host is in;
Nova's filter of the same name.

A requirement is a plain value (equal to one of the host's aggregates' values for the key) or
an operator then a value, as Nova's ``extra_specs_ops``: ``=`` (number ≥), ``==``/``!=``/
``>=``/``<=`` (numbers), ``s==``/``s!=``/``s>=``/``s<=``/``s<``/``s>`` (strings), ``<in>``
(substring), ``<all-in>`` (every listed word among the values) and ``<or>`` (any of
``<or> a <or> b``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.host_state import HostState

SCOPE = "aggregate_instance_extra_specs"

_NUMBER_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
}
_STRING_OPS: dict[str, Callable[[str, str], bool]] = {
    "s==": operator.eq,
    "s!=": operator.ne,
    "s>=": operator.ge,
    "s<=": operator.le,
    "s<": operator.lt,
    "s>": operator.gt,
}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _match_one(value: str, requirement: str) -> bool:
    """Whether one aggregate ``value`` satisfies ``requirement`` (an operator and operand,
    or a plain value compared as a string)."""
    words = requirement.split()
    if not words:
        return value == requirement
    op, rest = words[0], " ".join(words[1:])
    if op == "<or>":
        return value in [w.strip() for w in requirement.split("<or>") if w.strip()]
    if op == "<in>":
        return rest in value
    if op == "<all-in>":
        return set(words[1:]) <= set(value.split())
    if op in _STRING_OPS:
        return _STRING_OPS[op](value, rest)
    if op in _NUMBER_OPS:
        have, want = _number(value), _number(rest)
        return have is not None and want is not None and _NUMBER_OPS[op](have, want)
    return value == requirement


class AggregateInstanceExtraSpecsFilter(BaseHostFilter):
    """Reads the flavor's ``spec["flavor_extra_specs"]`` and the host's aggregate metadata
    ``spec["aggregate_metadata"][host]`` (``{key: [values]}``, one value per aggregate holding
    the key; ``compute.scheduler_hints.spec_extras`` fills both). Keys of another scope
    (``hw:``, ``quota:``...) are ignored; a host lacking a required key fails."""

    def host_passes(self, host_state: HostState, spec: dict[str, Any]) -> bool:
        """True when every requirement matches one of the host's aggregate values."""
        extra_specs: dict[str, str] = spec.get("flavor_extra_specs") or {}
        metadata: dict[str, list[str]] = (spec.get("aggregate_metadata") or {}).get(
            host_state.host, {}
        )
        for key, requirement in extra_specs.items():
            scope, _, name = key.rpartition(":")
            if scope and scope != SCOPE:
                continue
            values = metadata.get(name)
            if not values:
                return False
            if not any(_match_one(str(v).strip(), str(requirement).strip()) for v in values):
                return False
        return True

"""Hypothesis strategies that draw request bodies from the route schemas.

Close to what a schema allows, not exact: ``anyOf`` picks one branch, ``if``/``then``/``not``
are left to the caller, who keeps or drops each draw with the real validator. That keeps
generation fast for every schema the services declare (the general-purpose
hypothesis-jsonschema gives up on the larger ones, such as Keystone's auth body).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


def from_schema(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Bodies shaped by ``schema`` (a JSON Schema dict using the keywords the services use)."""
    if schema is True or schema == {}:
        return _any(depth)
    if schema is False:
        return st.nothing()
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [{**_without(schema, key), **b} for b in schema[key]]
            return st.one_of([from_schema(b, depth) for b in branches])
    if "allOf" in schema:
        merged = _without(schema, "allOf")
        for part in schema["allOf"]:
            merged = {**merged, **part}
        return from_schema(merged, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, depth) for k in kind])
    if kind == "object" or "properties" in schema:
        return _object(schema, depth)
    if kind == "array":
        return _array(schema, depth)
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31))
    if kind == "number":
        return st.floats(
            schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return _any(depth)


def _without(schema: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}


def _any(depth: int) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | _TEXT
    if depth > 3:
        return scalars
    return scalars | st.lists(scalars, max_size=3) | st.dictionaries(_TEXT, scalars, max_size=3)


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
    if "pattern" in schema:
        base = st.from_regex(schema["pattern"], fullmatch=schema["pattern"].startswith("^"))
    else:
        base = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
    return base.map(lambda s: s[:high]).filter(lambda s: len(s) >= low)


def _array(schema: dict[str, Any], depth: int) -> st.SearchStrategy[list[Any]]:
    items = from_schema(schema.get("items", True), depth + 1)
    return st.lists(
        items,
        min_size=schema.get("minItems", 0),
        max_size=min(schema.get("maxItems", 3), 3),
        unique_by=(lambda x: repr(x)) if schema.get("uniqueItems") else None,
    )


@st.composite
def _object(draw: Any, schema: dict[str, Any], depth: int) -> dict[str, Any]:
    props: dict[str, Any] = schema.get("properties", {})
    required = [k for k in schema.get("required", []) if k in props]
    optional = [k for k in props if k not in required]
    chosen = (
        required + draw(st.lists(st.sampled_from(optional), unique=True)) if optional else required
    )
    out = {k: draw(from_schema(props[k], depth + 1)) for k in chosen}
    extra = schema.get("additionalProperties", True)
    if extra is not False and draw(st.booleans()):
        names = from_schema(schema.get("propertyNames", {"type": "string", "maxLength": 12}))
        names = names.filter(lambda n: isinstance(n, str))
        values = from_schema(extra if isinstance(extra, dict) else True, depth + 1)
        for _ in range(draw(st.integers(0, 2))):
            out.setdefault(draw(names), draw(values))
    return out

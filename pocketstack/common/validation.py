"""Request bodies, checked in one place before any handler runs.

Every service API declares the JSON schema of each body it takes beside its handler
(``route("POST", "/v3/users", create_user, schema=schemas.CREATE_USER)``), as Nova,
Keystone and Glance do. The HTTP layer (``pocketstack.common.http``) then, for every request
with a body, in this order:

1. refuses a content type the route does not take (415, or the service's own answer);
2. refuses a body over ``max_request_body_size`` (413) before reading it all;
3. parses it with ``load_json``: nesting deeper than ``MAX_DEPTH``, integers outside a signed
   64-bit range, ``NaN``/``Infinity``/``1e999``, invalid UTF-8, lone surrogates and NUL
   characters are a 400, never a 500 further down (a database would reject them);
4. validates it against the route's schema with ``jsonschema`` (Draft 2020-12): a body that
   does not match is a 400 naming the field, and nothing has been written.

Schemas are plain dicts; ``pocketstack.common.schema_types`` holds the shared pieces
(names, ids, booleans, bounded integers...).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match

from pocketstack.common import errors

#: Deepest nesting of objects and lists a request body may have (OpenStack's bodies need 6).
MAX_DEPTH = 32
#: Integers a body may carry: those a signed 64-bit database column holds.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
#: Longest piece of an offending value echoed back in an error message.
_ECHO = 64


class InvalidInput(errors.BadRequest):
    """400: the body is not valid JSON or does not match the route's schema.

    Rendered in each service's error shape (Neutron's renderer names its type
    ``HTTPBadRequest``: ``pocketstack.network.api.errors``).
    """


def _reject_constant(name: str) -> Any:
    raise InvalidInput(f"Malformed request body: {name} is not a valid JSON number.")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput(f"Malformed request body: number {text[:_ECHO]} is out of range.")
    return value


def _parse_int(text: str) -> int:
    value = int(text)  # Python refuses more than 4300 digits with ValueError
    if not INT_MIN <= value <= INT_MAX:
        raise InvalidInput(f"Malformed request body: integer {text[:_ECHO]} is out of range.")
    return value


def load_json(raw: bytes) -> Any:
    """Parse a request body (UTF-8 JSON) safely.

    Returns the parsed value (dict, list, str, int, float, bool or None).

    Raises:
        InvalidInput: not JSON, not UTF-8, nested deeper than ``MAX_DEPTH``, a number
            outside the 64-bit/finite range, ``NaN``/``Infinity``, a lone surrogate or a NUL
            character in a string or key.
    """
    try:
        value = json.loads(
            raw,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
        )
    except RecursionError:
        raise InvalidInput(
            f"Malformed request body: nested deeper than {MAX_DEPTH} levels."
        ) from None
    except InvalidInput:
        raise
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise InvalidInput("Malformed request body: not valid JSON.") from None
    _check_tree(value)
    return value


def _check_tree(value: Any) -> None:
    """Walk the parsed body without recursion: depth, and strings a database can store."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise InvalidInput(
                    f"Malformed request body: nested deeper than {MAX_DEPTH} levels."
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise InvalidInput("Malformed request body: NUL characters are not allowed.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("Malformed request body: invalid Unicode (lone surrogate).") from None


class BodySchema:
    """A compiled request-body schema.

    Args:
        schema: a JSON schema (Draft 2020-12) as a dict; checked when built, so a broken
            schema fails at import time, not on a request.

    Raises:
        jsonschema.exceptions.SchemaError: the schema itself is invalid.
    """

    def __init__(self, schema: Mapping[str, Any]):
        Draft202012Validator.check_schema(schema)
        self.schema = schema
        self._validator = Draft202012Validator(schema)

    def validate(self, body: Any) -> None:
        """Check ``body`` (the parsed JSON, or None when the request had none).

        Raises:
            InvalidInput: the first (most relevant) mismatch, naming the field.
        """
        if body is None and not self._validator.is_valid(None):
            raise InvalidInput("The request body is required: it must be a JSON object.")
        error = _best_error(self._validator, body)
        if error is not None:
            raise InvalidInput(describe(error))


def _best_error(validator: Draft202012Validator, body: Any) -> SchemaError | None:
    return best_match(validator.iter_errors(body))


#: Attributes whose values an error message never echoes (nor anything beneath them).
SECRET_FIELDS = frozenset({"password", "original_password", "secret", "token", "adminPass"})


def _redact(value: Any) -> Any:
    """``value`` with the values of secret attributes (at any depth) replaced by ``***``."""
    if isinstance(value, dict):
        return {k: "***" if k in SECRET_FIELDS else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _echo(value: Any) -> str:
    value = _redact(value)
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= _ECHO else text[:_ECHO] + "..."


def describe(error: SchemaError) -> str:
    """A short message for a schema mismatch, in the words of Nova/Keystone's messages:
    ``Invalid input for field/attribute user.name. Value: '...'. '...' is too long``;
    long values are cut so a 100 KB name is never echoed whole, and the value of a secret
    (``SECRET_FIELDS``: a password...) is never echoed at all."""
    where = ".".join(str(p) for p in error.absolute_path) or "body"
    value: Any = error.instance
    if SECRET_FIELDS.intersection(str(p) for p in error.absolute_path):
        value = "***"
    kind: Any = error.validator
    limit: Any = error.validator_value
    schema: Any = error.schema
    if kind == "maxLength":
        reason = f"is longer than {error.validator_value} characters"
    elif kind == "minLength":
        reason = f"is shorter than {error.validator_value} characters"
    elif kind == "required":
        missing = [name for name in limit if name not in (value or {})]
        return f"Invalid input for field/attribute {where}: '{missing[0]}' is a required property."
    elif kind == "additionalProperties":
        extra = sorted(set(value) - set(schema.get("properties", {})))
        return (
            f"Invalid input for field/attribute {where}: additional properties are not "
            f"allowed ({', '.join(repr(e[:_ECHO]) for e in extra[:5])} unexpected)."
        )
    elif kind == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        reason = f"is not of type {wanted}"
    elif kind == "enum":
        reason = "is not one of " + ", ".join(_echo(v) for v in limit[:10])
    elif kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        reason = f"violates {kind} {error.validator_value}"
    elif kind == "pattern":
        reason = "does not match the expected format"
    elif kind in ("minProperties", "maxProperties", "minItems", "maxItems"):
        what = "attributes" if kind.endswith("Properties") else "items"
        bound = "at least" if kind.startswith("min") else "at most"
        reason = f"must have {bound} {limit} {what}"
    elif kind == "uniqueItems":
        reason = "has repeated items"
    elif kind == "const":
        reason = f"is not {_echo(limit)}"
    elif kind in ("anyOf", "oneOf"):
        reason = "matches none of the accepted forms"
    else:  # never jsonschema's own message: it shows the whole value
        reason = f"is not valid ({kind})"
    return f"Invalid input for field/attribute {where}. Value: {_echo(value)}. {reason}"

"""The JSON schemas of every Placement request body (``placement/schemas/*.py`` of the
Placement service, in their latest form), built from ``common/schema_types.py``; what
changed between microversions (a list or an object of allocations or aggregates) is
allowed here by ``anyOf`` and told apart by the handler."""

from __future__ import annotations

from pocketstack.common import schema_types as t
from pocketstack.placement.inventories import MAX_INT

UUID = t.UUID
GENERATION = t.integer(0, 2**63 - 1)
RC_NAME = t.string(255, 1, pattern=r"^[A-Z0-9_]+$")
CUSTOM_NAME = t.string(255, 1, pattern=r"^CUSTOM_[A-Z0-9_]+$")
AMOUNT = t.integer(1, MAX_INT)

PROVIDER_CREATE = t.obj(
    {"name": t.name(200), "uuid": UUID, "parent_provider_uuid": t.nullable(UUID)},
    required=["name"],
)
PROVIDER_UPDATE = t.obj(
    {"name": t.name(200), "parent_provider_uuid": t.nullable(UUID)}, required=["name"]
)

INVENTORY_FIELDS = {
    "total": t.integer(1, MAX_INT),
    "reserved": t.integer(0, MAX_INT),
    "min_unit": t.integer(1, MAX_INT),
    "max_unit": t.integer(1, MAX_INT),
    "step_size": t.integer(1, MAX_INT),
    "allocation_ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 3.40282e38},
}
INVENTORY = t.obj(INVENTORY_FIELDS, required=["total"])
INVENTORIES = t.obj(
    {
        "resource_provider_generation": GENERATION,
        "inventories": {
            "type": "object",
            "propertyNames": RC_NAME,
            "additionalProperties": INVENTORY,
        },
    },
    required=["resource_provider_generation", "inventories"],
)
INVENTORY_CREATE = t.obj(
    {"resource_class": RC_NAME, "resource_provider_generation": GENERATION, **INVENTORY_FIELDS},
    required=["resource_class", "resource_provider_generation", "total"],
)
INVENTORY_UPDATE = t.obj(
    {"resource_provider_generation": GENERATION, **INVENTORY_FIELDS},
    required=["resource_provider_generation", "total"],
)

AGGREGATES = {
    "anyOf": [
        t.array(UUID, unique=True),
        t.obj(
            {"aggregates": t.array(UUID, unique=True), "resource_provider_generation": GENERATION},
            required=["aggregates", "resource_provider_generation"],
        ),
    ]
}
PROVIDER_TRAITS = t.obj(
    {"traits": t.array(RC_NAME, unique=True), "resource_provider_generation": GENERATION},
    required=["traits", "resource_provider_generation"],
)
RESOURCE_CLASS = t.obj({"name": CUSTOM_NAME}, required=["name"])

RESOURCES = {"type": "object", "propertyNames": RC_NAME, "additionalProperties": AMOUNT}
#: 1.0-1.11: a list of {"resource_provider": {"uuid"}, "resources"}
ALLOCATION_LIST = t.array(
    t.obj(
        {
            "resource_provider": t.obj({"uuid": UUID}, required=["uuid"]),
            "resources": RESOURCES,
        },
        required=["resource_provider", "resources"],
    )
)
#: 1.12+: {provider uuid: {"resources": {...}}} (1.12's "generation" is ignored)
ALLOCATION_DICT = {
    "type": "object",
    "additionalProperties": t.obj(
        {"resources": RESOURCES, "generation": t.nullable(GENERATION)}, required=["resources"]
    ),
}
CONSUMER = t.obj(
    {
        "allocations": {"anyOf": [ALLOCATION_LIST, ALLOCATION_DICT]},
        "project_id": t.string(255, 1),
        "user_id": t.string(255, 1),
        "consumer_generation": t.nullable(GENERATION),
        "consumer_type": t.string(255, 1, pattern=r"^[A-Z0-9_]+$"),
        "mappings": {"type": "object"},
    },
    required=["allocations"],
)
ALLOCATIONS_MANY = {"type": "object", "additionalProperties": CONSUMER, "minProperties": 1}
#: ``PUT /resource_classes/{name}``: no body from 1.7, ``{"name"}`` before
RESOURCE_CLASS_UPDATE = {"anyOf": [{"type": "null"}, RESOURCE_CLASS]}
#: ``PUT /traits/{name}``: no body
NO_BODY = {"anyOf": [{"type": "null"}, {"type": "object", "maxProperties": 0}]}

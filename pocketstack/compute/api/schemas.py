"""Request-body schemas of the Compute API v2.1 (Nova), one per body a route takes.

Each is attached to its route (``compute_route("POST", V + "/servers", create_server,
schema=schemas.SERVER_CREATE)``) and checked by the HTTP layer before the handler runs: a
body that does not match is a 400 in Nova's error shape (``{"badRequest": ...}``) and
nothing is written. Handlers then only convert (``"1024"`` → 1024) and check what needs the
cloud (the flavor exists, the image exists, the name is free...).

What they follow, from Nova's own 2.1 request schemas (``nova/api/openstack/compute/schemas``,
the 2.1 variant of each, not the 2.0 compatibility one):

- Every object takes only the attributes Nova 2.1 knows (``additionalProperties: false``);
  what a later microversion added (``description``, ``tags``, a network's ``tag``,
  a keypair's ``type``...) is refused, as Nova 2.1 refuses it. Scheduler hints take extra
  keys, as in Nova.
- Names (``parameter_types.name``) are 1..255 printable characters that neither start nor
  end with whitespace; metadata keys are 1..255 of ``A-Z a-z 0-9 - _ : .`` and space,
  values strings of at most 255.
- Booleans are Nova's lenient ones (``true``, ``"True"``, ``"on"``, ``"1"``...); integers
  may be decimal strings (``"1024"``), as Nova takes them; JSON numbers are bounded by the
  database column (``2**31 - 1``), strings by their digits, and the handler converts them.
- ids Nova checks with ``format: uuid`` (``imageRef``, a network's ``port``) are UUIDs
  here too (our validator does not check formats, so they are patterns).

Where pocketstack is more lenient than Nova 2.1, to keep what it already did: keypair names
may hold ``.`` and ``@`` (Nova 2.92's set, which the keypair manager accepts), an admin may
create a keypair for another ``user_id`` (Nova: 2.10), and ``os-start``/``os-stop`` take
``{}`` as well as ``null`` (Nova takes anything there).

Sections of the Compute API reference are named on each schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketstack.common import schema_types as t
from pocketstack.common.validation import BodySchema, InvalidInput
from pocketstack.compute.api.live_migration import MIGRATE_LIVE
from pocketstack.compute.external_events import EVENT_NAMES as EXTERNAL_EVENT_NAMES
from pocketstack.compute.external_events import STATUSES as EXTERNAL_EVENT_STATUSES
from pocketstack.compute.quotas import DEFAULTS as QUOTA_DEFAULTS

Schema = t.Schema

#: Largest value of an integer column (Nova's ``db.constants.MAX_INT``).
MAX_INT = 2**31 - 1
#: Longest piece of an unknown action's name echoed back.
_ECHO = 64


# -- building blocks (Nova's parameter_types) ---------------------------------------------
#: Nova's ``name``: 1..255 characters, no control or line-separator characters, not starting
#: or ending with whitespace (``\Z``, not ``$``, so a trailing newline is not let through).
NAME: Schema = t.string(255, 1, pattern=r"^(?!\s)[^\x00-\x1f\x7f-\x9f\u2028\u2029]*(?<!\s)\Z")
#: A UUID, with or without dashes (Nova's ``format: uuid``).
UUID: Schema = t.UUID
#: An IPv4 address in dotted-quad form (Nova's ``accessIPv4``: ``format: ipv4``).
IPV4: Schema = t.string(
    15,
    7,
    pattern=r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\Z",
)
#: An IPv4 or IPv6 address, by its characters (Nova's ``ip_address``); the handler parses it.
IP_ADDRESS: Schema = t.string(45, 2, pattern=r"^[0-9a-fA-F:.]+\Z")
#: An IPv6 address, by its characters (Nova's ``accessIPv6``); the handler parses it.
IPV6: Schema = t.string(45, 2, pattern=r"^[0-9a-fA-F.]*:[0-9a-fA-F:.]*\Z")
#: A positive count (``min_count``, ``ram``...): a number or a decimal string.
POSITIVE_INTEGER: Schema = t.integer_like(1, MAX_INT)
#: A size that may be 0 (``disk``, ``swap``...): a number or a decimal string.
NON_NEGATIVE_INTEGER: Schema = t.integer_like(0, MAX_INT)
#: Server metadata and flavor extra-spec keys (Nova's ``metadata`` key pattern).
METADATA_KEY = r"^[a-zA-Z0-9_:. -]{1,255}\Z"
#: Nova's ``metadata``: keys as above, string values of at most 255 characters.
METADATA: Schema = {
    "type": "object",
    "propertyNames": {"pattern": METADATA_KEY},
    "additionalProperties": t.string(255),
}
#: Nova's ``boolean``: JSON booleans and ``"true"``/``"False"``/``"on"``/``"1"``...
BOOLEAN: Schema = t.BOOLEAN_LENIENT
#: Nova's ``disk_config``.
DISK_CONFIG: Schema = t.enum("AUTO", "MANUAL")


def _strings_or_list(item: Schema) -> Schema:
    """One value or a list of them (scheduler hints)."""
    return {"anyOf": [item, t.array(item)]}


# -- servers ------------------------------------------------------------------------------
_NETWORK = t.obj(
    {
        "uuid": t.string(255),  # the handler checks it is a UUID, with Nova's message
        "port": t.nullable(UUID),
        "fixed_ip": IP_ADDRESS,
        "tag": t.string(60, 1, pattern=r"^[^,/]*\Z"),  # 2.32-2.36, 2.42+ (api.device_tags)
    }
)

_LEGACY_BDM: dict[str, Schema] = {
    "virtual_name": t.string(255),
    "volume_id": UUID,
    "snapshot_id": UUID,
    "volume_size": POSITIVE_INTEGER,
    "device_name": t.string(255, 1, pattern=r"^[a-zA-Z0-9._/-]*\Z"),
    "delete_on_termination": BOOLEAN,
    # Nova takes anything here (only its presence counts); any scalar is enough.
    "no_device": {"type": ["boolean", "string", "null", "integer"], "maxLength": 255},
    "connection_info": t.string(65535),
}
_BDM_V2: dict[str, Schema] = {
    **_LEGACY_BDM,
    "source_type": t.enum("volume", "image", "snapshot", "blank"),
    "uuid": t.string(255, 1, pattern=r"^[a-zA-Z0-9._-]*\Z"),
    "image_id": UUID,
    "destination_type": t.enum("local", "volume"),
    "guest_format": t.string(255),
    "device_type": t.string(255),
    "disk_bus": t.string(255),
    "tag": t.string(60, 1, pattern=r"^[^,/]*\Z"),  # 2.32, 2.42+ (api.device_tags)
    # Nova takes null too (the legacy v2 API did).
    "boot_index": {
        "anyOf": [t.integer(-1, MAX_INT), t.string(11, 1, pattern=r"^-?[0-9]+\Z"), {"type": "null"}]
    },
}

_PERSONALITY = t.array(
    t.obj(
        {
            "path": t.string(255),
            "contents": t.string(65535, pattern=r"^[A-Za-z0-9+/=\s]*\Z"),  # base64
        }
    )
)

#: Nova's scheduler hints: the known ones type-checked, others taken (and ignored here).
_SCHEDULER_HINTS = t.obj(
    {
        "group": UUID,
        "different_host": _strings_or_list(UUID),
        "same_host": _strings_or_list(UUID),
        "query": {"type": ["string", "object"], "maxLength": 65535},
        "target_cell": NAME,
        "different_cell": _strings_or_list(t.string(255)),
        "build_near_host_ip": IP_ADDRESS,
        "cidr": t.string(64, 2, pattern=r"^/[0-9a-f.:]+\Z"),
    },
    additional=True,
)

#: A server tag (2.26): 1..60 characters, no ``/`` or ``,``.
TAG: Schema = t.string(60, 1, pattern=r"^[^,/]*\Z")
#: A server description (2.19): null or up to 255 printable characters.
DESCRIPTION: Schema = t.nullable(t.string(255, pattern=r"^[^\x00-\x1f\x7f-\x9f]*\Z"))
#: A guest hostname (2.90; FQDNs from 2.94): letters, digits, ``-`` and ``.``.
HOSTNAME: Schema = t.string(255, 1, pattern=r"^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?\Z")

#: Attributes of a create or update body that later microversions added, with the version
#: that brought each; the handler refuses them at an older version as Nova's 2.1 schema
#: does (``microversion.refuse_newer``).
SERVER_CREATE_ADDED = {
    "description": (2, 19),
    "tags": (2, 52),  # the tags API is 2.26's; tags at create came with 2.52
    "trusted_image_certificates": (2, 63),
    "host": (2, 74),
    "hypervisor_hostname": (2, 74),
    "hostname": (2, 90),
}
SERVER_UPDATE_ADDED = {"description": (2, 19), "hostname": (2, 90)}
#: Attributes of a create body that a later microversion removed, with that version.
SERVER_CREATE_REMOVED = {"personality": (2, 57)}

#: "Servers (servers)" — Create Server (``POST /servers``): the 2.1 body, plus the
#: attributes of ``SERVER_CREATE_ADDED``; ``networks`` may be ``"auto"``/``"none"`` (2.37).
SERVER_CREATE: Schema = t.obj(
    {
        "server": t.obj(
            {
                "name": NAME,
                # "" is Nova's boot from volume (refused by the handler, with its reason)
                "imageRef": {"anyOf": [UUID, t.string(0)]},
                "flavorRef": {"anyOf": [t.string(255, 1), t.integer(0)]},
                "adminPass": t.string(4096),
                "metadata": METADATA,
                "networks": {"anyOf": [t.array(_NETWORK), t.enum("auto", "none")]},
                "OS-DCF:diskConfig": DISK_CONFIG,
                "accessIPv4": IPV4,
                "accessIPv6": IPV6,
                "personality": _PERSONALITY,
                "availability_zone": NAME,
                "block_device_mapping": t.array(t.obj(_LEGACY_BDM)),
                "block_device_mapping_v2": t.array(t.obj(_BDM_V2)),
                "config_drive": BOOLEAN,
                "key_name": NAME,
                "min_count": POSITIVE_INTEGER,
                "max_count": POSITIVE_INTEGER,
                "return_reservation_id": BOOLEAN,
                "security_groups": t.array(t.obj({"name": NAME}, required=["name"])),
                # base64, decoded and checked by the handler (Nova's ``format: base64``)
                "user_data": t.string(65535),
                "description": DESCRIPTION,
                "tags": t.array(TAG, max_items=50),
                "trusted_image_certificates": t.nullable(t.array(t.string(255, 1))),
                "host": t.string(255, 1),
                "hypervisor_hostname": t.string(255, 1),
                "hostname": HOSTNAME,
            },
            required=["name", "flavorRef"],
        ),
        "os:scheduler_hints": _SCHEDULER_HINTS,
        "OS-SCH-HNT:scheduler_hints": _SCHEDULER_HINTS,
    },
    required=["server"],
)

#: "Servers with volume attachments" — Attach a volume to an instance, the 2.1 body.
VOLUME_ATTACHMENT_CREATE: Schema = t.wrapped(
    "volumeAttachment",
    t.obj(
        {
            "volumeId": UUID,
            "device": t.nullable(
                t.string(255, pattern=r"(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*\Z")
            ),
            "tag": t.string(60, 1, pattern=r"^[^,/]*\Z"),  # 2.49+ (api.device_tags)
        },
        required=["volumeId"],
    ),
)

#: "Servers (servers)" — Update Server (``PUT /servers/{server_id}``): the 2.1 body plus
#: ``SERVER_UPDATE_ADDED``.
SERVER_UPDATE: Schema = t.wrapped(
    "server",
    t.obj(
        {
            "name": NAME,
            "description": DESCRIPTION,
            "hostname": HOSTNAME,
            "OS-DCF:diskConfig": DISK_CONFIG,
            "accessIPv4": IPV4,
            "accessIPv6": IPV6,
        }
    ),
)


class ActionSchema(BodySchema):
    """The body of an ``/action`` route: one key naming an implemented action, its value in
    that action's own shape ("Servers - run an action (servers, action)", "Flavors access
    (flavors, os-flavor-access, action)").

    Nova picks the action by the body's key before it validates the body against that
    action's schema, so a body that is not exactly one action, or that names an action
    which does not exist, keeps Nova's answers (400 ``There is no such action: <name>``)
    instead of a schema message; everything else is checked by the schema.

    Args:
        actions: action name → the schema of its value.
    """

    def __init__(self, actions: Mapping[str, Schema]):
        self.actions: dict[str, Schema] = dict(actions)
        super().__init__(
            t.obj(self.actions, minProperties=1, maxProperties=1),
        )

    def validate(self, body: Any) -> None:
        """Check ``body`` (see ``BodySchema.validate``).

        Raises:
            InvalidInput: not one action, an unknown action, or its value in the wrong shape.
        """
        if not isinstance(body, dict) or len(body) != 1:
            raise InvalidInput("The action body must hold exactly one action.")
        (name,) = body
        if name not in self.actions:
            shown = name if len(name) <= _ECHO else name[:_ECHO] + "..."
            raise InvalidInput(f"There is no such action: {shown}")
        super().validate(body)


#: An action without arguments: Nova clients send ``null`` (some ``{}``).
_NO_ARGUMENTS: Schema = {"anyOf": [{"type": "null"}, t.obj({})]}

#: "Servers - run an action (servers, action)": Start Server (``os-start``), Stop Server
#: (``os-stop``), Reboot Server (``reboot``) and Show Console Output
#: (``os-getConsoleOutput``) — exactly the actions ``server_actions.ACTIONS`` implements.
SERVER_ACTION = ActionSchema(
    {
        "os-start": _NO_ARGUMENTS,
        "os-stop": _NO_ARGUMENTS,
        "reboot": t.obj(
            {"type": t.enum("HARD", "Hard", "hard", "SOFT", "Soft", "soft")},
            required=["type"],
        ),
        "os-getConsoleOutput": t.obj(
            # -1 and null mean the whole log
            {"length": t.nullable(t.integer_like(-1))}
        ),
        # state actions ("Pause Server"... "Trigger Crash Dump In Server", ``server_actions``)
        "pause": _NO_ARGUMENTS,
        "unpause": _NO_ARGUMENTS,
        "suspend": _NO_ARGUMENTS,
        "resume": _NO_ARGUMENTS,
        "unlock": _NO_ARGUMENTS,
        "unrescue": _NO_ARGUMENTS,
        "resetNetwork": _NO_ARGUMENTS,
        "trigger_crash_dump": _NO_ARGUMENTS,
        # locked_reason: 2.73 (the handler refuses it before)
        "lock": {"anyOf": [{"type": "null"}, t.obj({"locked_reason": t.string(255)})]},
        "rescue": {
            "anyOf": [
                {"type": "null"},
                t.obj({"adminPass": t.string(255), "rescue_image_ref": t.string(255, 1)}),
            ]
        },
        "changePassword": t.obj({"adminPass": t.string(255)}, required=["adminPass"]),
        # "Rebuild Server (rebuild Action)" (``api/server_rebuild.py``: which microversion
        # brought which field)
        "rebuild": t.obj(
            {
                "imageRef": t.string(255, 1),
                "name": NAME,
                "metadata": METADATA,
                "adminPass": t.string(255),
                "preserve_ephemeral": BOOLEAN,
                "accessIPv4": IPV4,
                "accessIPv6": IPV6,
                "OS-DCF:diskConfig": DISK_CONFIG,
                "personality": _PERSONALITY,
                "description": DESCRIPTION,
                "key_name": t.nullable(t.string(255, 1)),
                "user_data": t.nullable(t.string(65535)),
                "trusted_image_certificates": t.nullable(t.array(t.string(255, 1), 50, True)),
                "hostname": HOSTNAME,
            },
            required=["imageRef"],
        ),
        # "Evacuate Server (evacuate Action)" (``api/server_rebuild.evacuate_server`` checks
        # onSharedStorage < 2.14 and force 2.29-2.67)
        "evacuate": t.obj(
            {
                "host": t.string(255, 1),
                "adminPass": t.string(255),
                "onSharedStorage": BOOLEAN,
                "force": BOOLEAN,
            }
        ),
        # "Create Image (createImage Action)" (``server_actions.create_image``)
        "createImage": t.obj({"name": NAME, "metadata": METADATA}, required=["name"]),
        # "Shelve Server", "Shelf-Offload (Remove) Server", "Unshelve (Restore) Shelved
        # Server" (``server_actions.shelve``...): availability_zone 2.77, host 2.91
        "shelve": _NO_ARGUMENTS,
        "shelveOffload": _NO_ARGUMENTS,
        "unshelve": {
            "anyOf": [
                {"type": "null"},
                t.obj(
                    {
                        "availability_zone": t.nullable(t.string(255, 1)),
                        "host": t.string(255, 1),
                    }
                ),
            ]
        },
        # "Create Server Back Up (createBackup Action)" (``server_actions.create_backup``)
        "createBackup": t.obj(
            {
                "name": NAME,
                "backup_type": t.string(255),
                "rotation": t.integer_like(0),
                "metadata": METADATA,
            },
            required=["name", "backup_type", "rotation"],
        ),
        "os-resetState": t.obj({"state": t.enum("active", "error")}, required=["state"]),
        # "Live-Migrate Server (os-migrateLive Action)" (``api.live_migration``)
        "os-migrateLive": MIGRATE_LIVE,
        # "Resize Server", "Confirm Resized Server", "Revert Resized Server", "Migrate
        # Server" (``resize``; migrate's host: 2.56, refused before by the handler)
        "resize": t.obj(
            {
                "flavorRef": {"anyOf": [t.string(255, 1), t.integer(0)]},
                "OS-DCF:diskConfig": t.enum("AUTO", "MANUAL"),
            },
            required=["flavorRef"],
        ),
        "confirmResize": _NO_ARGUMENTS,
        "revertResize": _NO_ARGUMENTS,
        "migrate": {"anyOf": [{"type": "null"}, t.obj({"host": t.nullable(t.string(255, 1))})]},
        # "Add Security Group To A Server" / "Remove Security Group From A Server"
        "addSecurityGroup": t.obj({"name": t.string(255, 1)}, required=["name"]),
        "removeSecurityGroup": t.obj({"name": t.string(255, 1)}, required=["name"]),
        # "Get VNC Console" / "Get Serial Console" (2.1-2.5; ``remote_consoles``)
        "os-getVNCConsole": t.obj({"type": t.enum("novnc", "xvpvnc")}, required=["type"]),
        "os-getSerialConsole": t.obj({"type": t.enum("serial")}, required=["type"]),
    }
)


# -- server metadata ----------------------------------------------------------------------
#: "Server metadata (servers, metadata)" — Create or Update Metadata Items
#: (``POST /servers/{server_id}/metadata``) and Replace Metadata Items (``PUT``).
METADATA_SET: Schema = t.wrapped("metadata", METADATA)

#: "Server metadata (servers, metadata)" — Create Or Update Metadata Item
#: (``PUT /servers/{server_id}/metadata/{key}``): exactly one key.
METADATA_ITEM: Schema = t.wrapped("meta", {**METADATA, "minProperties": 1, "maxProperties": 1})


# -- flavors ------------------------------------------------------------------------------
#: "Flavors (flavors)" — Create Flavor (``POST /flavors``), the 2.1 body.
FLAVOR_CREATE: Schema = t.wrapped(
    "flavor",
    t.obj(
        {
            "name": NAME,
            # null or absent: the service picks a UUID
            "id": t.nullable(
                {
                    "anyOf": [
                        t.string(255, 1, pattern=r"^(?! )[a-zA-Z0-9. _-]+(?<! )\Z"),
                        t.integer(0),
                    ]
                }
            ),
            "ram": POSITIVE_INTEGER,
            "vcpus": POSITIVE_INTEGER,
            "disk": NON_NEGATIVE_INTEGER,
            "OS-FLV-EXT-DATA:ephemeral": NON_NEGATIVE_INTEGER,
            "swap": NON_NEGATIVE_INTEGER,
            # a positive float (Nova: at most the largest single-precision float)
            "rxtx_factor": {
                "anyOf": [
                    {"type": "number", "exclusiveMinimum": 0, "maximum": 3.40282e38},
                    t.string(40, 1, pattern=r"^[0-9]+(\.[0-9]+)?\Z"),
                ]
            },
            "os-flavor-access:is_public": BOOLEAN,
            "description": DESCRIPTION,  # 2.55 (refused before by the handler)
        },
        required=["name", "ram", "vcpus", "disk"],
    ),
)

#: "Flavors" — Update Flavor Description (``PUT /flavors/{flavor_id}``, 2.55).
FLAVOR_UPDATE: Schema = t.wrapped(
    "flavor", t.obj({"description": DESCRIPTION}, required=["description"])
)

_TENANT: Schema = t.obj({"tenant": t.string(255, 1)}, required=["tenant"])

#: "Flavors access (flavors, os-flavor-access, action)" — Add Flavor Access To Tenant
#: (``addTenantAccess``) and Remove Flavor Access From Tenant (``removeTenantAccess``).
FLAVOR_ACTION = ActionSchema({"addTenantAccess": _TENANT, "removeTenantAccess": _TENANT})

#: Extra-spec values: strings of at most 255 characters or numbers (stored as strings).
_EXTRA_SPECS: Schema = {
    "type": "object",
    "propertyNames": {"pattern": METADATA_KEY},
    "additionalProperties": {"type": ["string", "number"], "maxLength": 255},
}

#: "Flavors extra-specs (flavors, os-flavor-extra-specs)" — Create Extra Specs For A Flavor
#: (``POST /flavors/{flavor_id}/os-extra_specs``).
EXTRA_SPECS_CREATE: Schema = t.wrapped("extra_specs", _EXTRA_SPECS)

#: "Flavors extra-specs (flavors, os-flavor-extra-specs)" — Update An Extra Spec For A
#: Flavor (``PUT /flavors/{flavor_id}/os-extra_specs/{key}``): ``{key: value}``, one key.
EXTRA_SPEC_UPDATE: Schema = {**_EXTRA_SPECS, "minProperties": 1, "maxProperties": 1}


# -- keypairs -----------------------------------------------------------------------------
#: "Keypairs (keypairs)" — Import Or Create Keypair (``POST /os-keypairs``): the 2.1 body
#: plus an admin's ``user_id`` (Nova: 2.10).
KEYPAIR_CREATE: Schema = t.wrapped(
    "keypair",
    t.obj(
        {
            "name": t.string(255, 1, pattern=r"^(?! )[a-zA-Z0-9 _.@-]+(?<! )\Z"),
            # OpenSSH public key lines (several are kept); generated when absent
            "public_key": t.string(65535),
            "user_id": t.ID,
            "type": t.enum("ssh", "x509"),  # 2.2 (refused before by the handler)
        },
        required=["name"],
    ),
)


# -- server external events ---------------------------------------------------------------
#: "Server external events (os-server-external-events)" — Run Events (``POST
#: /os-server-external-events``): the 2.1 body (at least one event; the 2.1 event names).
SERVER_EXTERNAL_EVENTS_CREATE: Schema = t.obj(
    {
        "events": {
            "type": "array",
            "minItems": 1,
            "items": t.obj(
                {
                    "server_uuid": UUID,
                    "name": t.enum(*EXTERNAL_EVENT_NAMES),
                    "status": t.enum(*EXTERNAL_EVENT_STATUSES),
                    "tag": t.string(255),
                },
                required=["server_uuid", "name"],
            ),
        }
    },
    required=["events"],
)


# -- compute services ---------------------------------------------------------------------
#: "Compute services (os-services)" — Enable Scheduling, Disable Scheduling and Log
#: Disabled Compute Service Information (``PUT /os-services/{enable|disable|
#: disable-log-reason}``), the 2.1 body.
SERVICE_UPDATE: Schema = t.obj(
    {
        "host": t.string(255, 1, pattern=r"^[a-zA-Z0-9._-]*\Z"),  # Nova's ``fqdn``
        "binary": t.string(255, 1),
        "disabled_reason": t.string(255, 1),
        # 2.53's body (``PUT /os-services/{service_uuid}``); the handler checks which
        # attributes the request's version takes (host and binary before 2.53)
        "status": t.enum("enabled", "disabled"),
        "forced_down": BOOLEAN,
    },
)


# -- quotas -------------------------------------------------------------------------------
#: "Quota sets (os-quota-sets)" — Update Quotas (``PUT /os-quota-sets/{project_id}``): the
#: 2.1 resources, each a limit from -1 (unlimited) up, and ``force``.
QUOTA_SET_UPDATE: Schema = t.wrapped(
    "quota_set",
    t.obj(
        {
            **{resource: t.integer_like(-1, MAX_INT) for resource in QUOTA_DEFAULTS},
            "force": BOOLEAN,
        }
    ),
)


#: "Server tags (servers, tags)" — Add A Single Tag: no body (Nova ignores any).
NO_BODY: Schema = {}

#: "Server tags (servers, tags)" — Replace Tags.
TAGS_REPLACE: Schema = t.obj({"tags": t.array(TAG)}, required=["tags"])


# -- server groups, aggregates, interfaces ------------------------------------------------
_GROUP_POLICY: Schema = t.enum("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")

#: "Server groups (os-server-groups)" — Create Server Group: ``policies`` (a list of one,
#: up to 2.63) or ``policy`` and ``rules`` (2.64); the handler checks which one the
#: request's microversion takes.
SERVER_GROUP_CREATE: Schema = t.wrapped(
    "server_group",
    t.obj(
        {
            "name": NAME,
            "policies": {**t.array(_GROUP_POLICY, max_items=1, unique=True), "minItems": 1},
            "policy": _GROUP_POLICY,
            "rules": t.obj({"max_server_per_host": POSITIVE_INTEGER}),
        },
        required=["name"],
    ),
)

_AZ_NAME: Schema = t.nullable(t.string(255, 1, pattern=r"^(?!\s)[^:]*(?<!\s)\Z"))

#: "Host aggregates (os-aggregates)" — Create Aggregate.
AGGREGATE_CREATE: Schema = t.wrapped(
    "aggregate", t.obj({"name": NAME, "availability_zone": _AZ_NAME}, required=["name"])
)

#: "Host aggregates (os-aggregates)" — Update Aggregate: a name and/or a zone.
AGGREGATE_UPDATE: Schema = t.wrapped(
    "aggregate",
    {**t.obj({"name": NAME, "availability_zone": _AZ_NAME}), "minProperties": 1},
)

_HOST: Schema = t.obj({"host": t.string(255, 1)}, required=["host"])

#: "Host aggregates (os-aggregates)" — Add Host, Remove Host, Create Or Update Aggregate
#: Metadata (``null`` values remove keys).
AGGREGATE_ACTION = ActionSchema(
    {
        "add_host": _HOST,
        "remove_host": _HOST,
        "set_metadata": t.obj(
            {
                "metadata": {
                    "type": "object",
                    "propertyNames": {"pattern": METADATA_KEY},
                    "additionalProperties": {
                        "type": ["string", "number", "null"],
                        "maxLength": 255,
                    },
                }
            },
            required=["metadata"],
        ),
    }
)

#: "Port interfaces (servers, os-interface)" — Create Interface: a port, or a network
#: (with an optional fixed IP), or neither (the project's network).
INTERFACE_ATTACHMENT_CREATE: Schema = t.obj(
    {
        "interfaceAttachment": t.obj(
            {
                "port_id": UUID,
                "net_id": UUID,
                "fixed_ips": t.array(
                    t.obj({"ip_address": IP_ADDRESS}, required=["ip_address"]), max_items=1
                ),
                "tag": t.string(60, 1, pattern=r"^[^,/]*\Z"),  # 2.49+ (api.device_tags)
            }
        )
    }
)


# -- remote consoles ----------------------------------------------------------------------
#: "Create Remote Console" (``POST /servers/{server_id}/remote-consoles``, 2.6; ``mks``
#: and ``webmks`` are Nova's 2.8 additions, accepted at every version here and answered
#: "unavailable" as the other protocols this cloud does not offer)
REMOTE_CONSOLE_CREATE: Schema = t.wrapped(
    "remote_console",
    t.obj(
        {
            "protocol": t.enum("vnc", "spice", "rdp", "serial", "mks"),
            "type": t.enum("novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial", "webmks"),
        },
        required=["protocol", "type"],
    ),
)

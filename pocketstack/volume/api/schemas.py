"""The JSON schemas of every Block Storage request body (Cinder's ``cinder/api/schemas``,
3.53+ strict validation), built from ``common/schema_types.py``; an ``/action`` body is
one of the actions its ``ActionSchema`` names (Cinder's 400 for an unknown one)."""

from __future__ import annotations

from pocketstack.common import schema_types as t
from pocketstack.compute.api.schemas import ActionSchema

NAME = t.nullable(t.string(255))
DESCRIPTION = t.nullable(t.string(255))
SIZE = t.integer_like(1, 2**31 - 1)
METADATA = t.METADATA
#: Cinder's ``metadata_allows_null`` (openstackclient sends ``null`` for none)
METADATA_OR_NULL = t.nullable(t.METADATA)
BOOL = t.BOOLEAN_LENIENT
UUID_OR_NULL = t.nullable(t.string(36))

VOLUME_CREATE = t.wrapped(
    "volume",
    t.obj(
        {
            "name": NAME,
            "display_name": NAME,
            "description": DESCRIPTION,
            "display_description": DESCRIPTION,
            "size": t.nullable(SIZE),
            "volume_type": t.nullable(t.string(255)),
            "availability_zone": t.nullable(t.string(255)),
            "metadata": METADATA_OR_NULL,
            "snapshot_id": UUID_OR_NULL,
            "source_volid": UUID_OR_NULL,
            "imageRef": UUID_OR_NULL,
            "image_id": UUID_OR_NULL,
            "backup_id": UUID_OR_NULL,
            "multiattach": t.nullable(BOOL),
            "consistencygroup_id": UUID_OR_NULL,
            "group_id": UUID_OR_NULL,
        }
    ),
    additional=True,
)

VOLUME_UPDATE = t.wrapped(
    "volume",
    t.obj(
        {
            "name": NAME,
            "display_name": NAME,
            "description": DESCRIPTION,
            "display_description": DESCRIPTION,
            "metadata": METADATA_OR_NULL,
        },
    ),
)

METADATA_BODY = t.obj({"metadata": METADATA}, required=["metadata"])
META_ITEM = t.obj({"meta": METADATA}, required=["meta"])

VOLUME_ACTION = ActionSchema(
    {
        "os-extend": t.obj({"new_size": SIZE}, required=["new_size"]),
        "os-set_bootable": t.obj({"bootable": BOOL}, required=["bootable"]),
        "os-update_readonly_flag": t.obj({"readonly": BOOL}, required=["readonly"]),
        "os-set_image_metadata": t.obj({"metadata": METADATA}, required=["metadata"]),
        "os-unset_image_metadata": t.obj({"key": t.string(255, 1)}, required=["key"]),
        "os-show_image_metadata": t.nullable(t.obj({}, additional=True)),
        "os-volume_upload_image": t.obj(
            {
                "image_name": t.string(255, 1),
                "force": BOOL,
                "disk_format": t.string(16),
                "container_format": t.string(16),
                "visibility": t.enum("public", "private", "shared", "community"),
                "protected": BOOL,
            },
            required=["image_name"],
        ),
        "os-reset_status": t.obj(
            {
                "status": t.string(255),
                "attach_status": t.string(255),
                "migration_status": t.nullable(t.string(255)),
            }
        ),
        "os-force_delete": t.nullable(t.obj({}, additional=True)),
    }
)

TYPE_CREATE = t.wrapped(
    "volume_type",
    t.obj(
        {
            "name": t.string(255, 1),
            "description": DESCRIPTION,
            "os-volume-type-access:is_public": BOOL,
            "extra_specs": t.obj({}, additional=t.string(255)),
        },
        required=["name"],
    ),
)
TYPE_UPDATE = t.wrapped(
    "volume_type",
    t.obj(
        {
            "name": t.nullable(t.string(255, 1)),
            "description": DESCRIPTION,
            "is_public": BOOL,
        }
    ),
)
EXTRA_SPECS = t.obj({"extra_specs": t.obj({}, additional=t.string(255))}, required=["extra_specs"])
EXTRA_SPEC_ITEM = t.obj({}, additional=t.string(255), minProperties=1, maxProperties=1)
TYPE_ACTION = ActionSchema(
    {
        "addProjectAccess": t.obj({"project": t.string(255, 1)}, required=["project"]),
        "removeProjectAccess": t.obj({"project": t.string(255, 1)}, required=["project"]),
    }
)

SNAPSHOT_CREATE = t.wrapped(
    "snapshot",
    t.obj(
        {
            # null passes the schema and is Cinder's 404 "Volume None could not be found"
            "volume_id": t.nullable(t.string(36, 1)),
            "name": NAME,
            "display_name": NAME,
            "description": DESCRIPTION,
            "display_description": DESCRIPTION,
            "force": BOOL,
            "metadata": METADATA_OR_NULL,
        },
        required=["volume_id"],
    ),
)
SNAPSHOT_UPDATE = t.wrapped(
    "snapshot",
    t.obj(
        {
            "name": NAME,
            "display_name": NAME,
            "description": DESCRIPTION,
            "display_description": DESCRIPTION,
        }
    ),
)
SNAPSHOT_ACTION = ActionSchema(
    {
        "os-reset_status": t.obj({"status": t.string(255)}, required=["status"]),
        "os-force_delete": t.nullable(t.obj({}, additional=True)),
    }
)

CONNECTOR = t.obj({}, additional=True)
ATTACHMENT_CREATE = t.wrapped(
    "attachment",
    t.obj(
        {
            "volume_uuid": t.string(36, 1),
            "instance_uuid": t.nullable(t.string(36)),
            "connector": t.nullable(CONNECTOR),
            "mode": t.enum("rw", "ro"),
        },
        required=["volume_uuid"],
    ),
)
ATTACHMENT_UPDATE = t.wrapped("attachment", t.obj({"connector": CONNECTOR}, required=["connector"]))
ATTACHMENT_ACTION = ActionSchema({"os-complete": t.nullable(t.obj({}, additional=True))})

QUOTA_UPDATE = t.wrapped(
    "quota_set", t.obj({}, additional=t.integer_like(-1, 2**31 - 1)), additional=False
)

SERVICE_UPDATE = t.obj(
    {
        "host": t.string(255, 1),
        "binary": t.string(255, 1),
        "disabled_reason": t.nullable(t.string(255)),
    },
    required=["host", "binary"],
)

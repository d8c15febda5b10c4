"""Metadata definitions catalog (Image API v2 "Metadata definitions"), ``cloud.image.metadefs``.

Namespaces hold property definitions, objects (named groups of properties) and tags, and are
associated with resource types (``OS::Glance::Image``...). Following Glance's current
defaults: only admins create, change and delete (the policies); a ``public`` namespace (or
one without owner) is seen by everyone, a ``private`` one only by its owner project and
admins, and one the caller may not see is answered 404 as if it did not exist (Glance's
``_is_namespace_visible``). A ``protected`` namespace refuses deletes of itself and of its
contents with 403. Names are unique: a duplicate is a 409. Methods return model rows
(``metadef_models``); ``api/metadefs.py`` renders them.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.image.metadef_models import (
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefResourceTypeAssociation,
    MetadefTag,
)

if TYPE_CHECKING:
    from pocketstack.service import Cloud

Row = TypeVar("Row", MetadefNamespace, MetadefTag)
Child = MetadefObject | MetadefProperty | MetadefTag

#: Keys a namespace list may sort on (Glance's namespace attributes).
NAMESPACE_SORT_KEYS = (
    "namespace",
    "display_name",
    "description",
    "visibility",
    "protected",
    "owner",
    "created_at",
    "updated_at",
)
TAG_SORT_KEYS = ("name", "created_at", "updated_at")
#: Glance's ``limit_param_default`` and ``api_limit_max``.
DEFAULT_LIMIT, MAX_LIMIT = 25, 1000
_ASSOC_JOIN = MetadefResourceType.id == MetadefResourceTypeAssociation.resource_type_id


class MetadefNotFound(errors.NotFound):
    """404: no such namespace (or one the caller may not see), object, property, tag,
    resource type or association."""


class MetadefDuplicate(errors.Conflict):
    """409: a namespace, or a namespace's object, property, tag or resource type
    association, of that name exists already."""


class MetadefProtected(errors.Forbidden):
    """403: the namespace is protected; neither it nor its contents may be deleted."""


class Page:
    """Paging arguments of a list: ``limit`` (1..``MAX_LIMIT``), ``marker`` (a name),
    ``sort_key``, ``sort_dir`` (``asc``/``desc``); parsed from a query by ``parse``."""

    def __init__(self, limit: int | None, marker: str | None, sort_key: str, sort_dir: str) -> None:
        self.limit, self.marker, self.sort_key, self.sort_dir = limit, marker, sort_key, sort_dir

    @classmethod
    def parse(cls, query: Any, keys: Sequence[str], default_limit: int | None = None) -> Page:
        """``limit`` is ``default_limit`` when not given. BadRequest (400) for a limit
        that is not a non-negative integer, an unknown sort key or direction (Glance's
        messages)."""
        raw = query.get("limit")
        limit = default_limit
        if raw is not None:
            try:
                limit = int(raw)
            except ValueError:
                raise errors.BadRequest("limit param must be an integer") from None
            if limit < 0:
                raise errors.BadRequest("limit param must be positive")
            limit = min(limit, MAX_LIMIT)
        sort_key = query.get("sort_key", "created_at")
        if sort_key not in keys:
            raise errors.BadRequest(
                f"Invalid sort key: {sort_key}. It must be one of the following: "
                + ", ".join(keys)
                + "."
            )
        sort_dir = query.get("sort_dir", "desc")
        if sort_dir not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {sort_dir}")
        return cls(limit, query.get("marker"), sort_key, sort_dir)

    def apply(self, rows: list[Row], name: Callable[[Row], str]) -> list[Row]:
        """``rows`` sorted (None values first), after the marker, cut to the limit.
        Raises MetadefNotFound for a marker not among ``rows``."""

        def key(r: Row) -> tuple[Any, ...]:
            v = getattr(r, self.sort_key)
            return (v is not None, v if v is not None else "", r.created_at, r.id)

        rows = sorted(rows, key=key, reverse=self.sort_dir == "desc")
        if self.marker is not None:
            names = [name(r) for r in rows]
            if self.marker not in names:
                raise MetadefNotFound(f"Marker {self.marker} could not be found.")
            rows = rows[names.index(self.marker) + 1 :]
        return rows if self.limit is None else rows[: self.limit]


def _visible(ctx: RequestContext, ns: MetadefNamespace) -> bool:
    return ctx.is_admin or ns.owner is None or ns.visibility == "public" or ctx.owns(ns.owner)


def _not_found(namespace: str) -> MetadefNotFound:
    return MetadefNotFound(f"Metadata definition namespace={namespace} was not found.")


class Metadefs:
    """Namespaces, resource types and their associations, objects, properties and tags
    (``cloud.image.metadefs``)."""

    def __init__(self, cloud: Cloud):
        self.db = cloud.db

    # -- namespaces -----------------------------------------------------------------------

    def list_namespaces(
        self,
        ctx: RequestContext,
        page: Page,
        visibility: str | None = None,
        resource_types: builtins.list[str] | None = None,
    ) -> builtins.list[tuple[MetadefNamespace, builtins.list[Any]]]:
        """Visible namespaces, each with its resource type associations (``(name, row)``
        pairs), filtered by ``visibility`` and by any of ``resource_types``, paged.

        Raises:
            BadRequest (400): an unknown visibility. MetadefNotFound (404): unknown marker.
        """
        if visibility is not None and visibility not in ("public", "private"):
            raise errors.BadRequest(f"Invalid visibility value: {visibility}")
        with self.db.reader() as s:
            q = sa.select(MetadefNamespace)
            if visibility is not None:
                q = q.where(MetadefNamespace.visibility == visibility)
            if resource_types:
                ids = (
                    sa.select(MetadefResourceTypeAssociation.namespace_id)
                    .join(MetadefResourceType, _ASSOC_JOIN)
                    .where(MetadefResourceType.name.in_(resource_types))
                )
                q = q.where(MetadefNamespace.id.in_(ids))
            rows = [ns for ns in s.scalars(q) if _visible(ctx, ns)]
            rows = page.apply(rows, lambda ns: ns.namespace)
            return [(ns, self._associations(s, ns.id)) for ns in rows]

    def get_namespace(self, ctx: RequestContext, namespace: str) -> dict[str, Any]:
        """The namespace with its contents: ``{"namespace": row, "associations": [(name,
        row)], "objects": [...], "properties": [...], "tags": [...]}``.

        Raises:
            MetadefNotFound (404): unknown or not visible to ``ctx``.
        """
        with self.db.reader() as s:
            ns = self._load(s, ctx, namespace)
            return {
                "namespace": ns,
                "associations": self._associations(s, ns.id),
                "objects": self._children(s, MetadefObject, ns.id),
                "properties": self._children(s, MetadefProperty, ns.id),
                "tags": self._children(s, MetadefTag, ns.id),
            }

    def create_namespace(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """Create a namespace (``schemas.NAMESPACE`` body) with the associations, objects,
        properties and tags it names, all or nothing; ``owner`` defaults to the caller's
        project, ``visibility`` to private. Returns ``get_namespace``'s shape.

        Raises:
            MetadefDuplicate (409): the namespace, or a name inside it, exists.
        """
        name = body["namespace"]
        with self.db.transaction() as s:
            self._check_free(s, name)
            ns = MetadefNamespace(
                namespace=name,
                display_name=body.get("display_name"),
                description=body.get("description"),
                visibility=body.get("visibility", "private"),
                protected=body.get("protected", False),
                owner=body.get("owner") or ctx.project_id,
            )
            s.add(ns)
            s.flush()
            for assoc in body.get("resource_type_associations", []):
                self._associate(s, ns, assoc)
            for obj in body.get("objects", []):
                self._add_object(s, ns, obj)
            for prop_name, schema in body.get("properties", {}).items():
                self._add_property(s, ns, {**schema, "name": prop_name})
            for tag in body.get("tags", []):
                self._add_tag(s, ns, tag["name"])
            s.flush()
        return self.get_namespace(ctx, name)

    def update_namespace(
        self, ctx: RequestContext, namespace: str, body: dict[str, Any]
    ) -> MetadefNamespace:
        """Replace a namespace's attributes (Glance's PUT: ``visibility`` back to private,
        ``protected`` to false and ``owner`` to the caller's project when not given); a new
        ``namespace`` renames it.

        Raises:
            MetadefNotFound (404). MetadefDuplicate (409): the new name is taken.
        """
        with self.db.transaction() as s:
            ns = self._load(s, ctx, namespace)
            if body["namespace"] != ns.namespace:
                self._check_free(s, body["namespace"])
            ns.namespace = body["namespace"]
            ns.display_name = body.get("display_name")
            ns.description = body.get("description")
            ns.visibility = body.get("visibility") or "private"
            ns.protected = body.get("protected") or False
            ns.owner = body.get("owner") or ctx.project_id
            s.flush()
            return ns

    def delete_namespace(self, ctx: RequestContext, namespace: str) -> None:
        """Delete a namespace and everything in it.

        Raises:
            MetadefNotFound (404). MetadefProtected (403): the namespace is protected.
        """
        with self.db.transaction() as s:
            ns = self._load(s, ctx, namespace, deleting=True)
            for model in (MetadefResourceTypeAssociation, MetadefObject, MetadefProperty):
                s.execute(sa.delete(model).where(model.namespace_id == ns.id))
            s.execute(sa.delete(MetadefTag).where(MetadefTag.namespace_id == ns.id))
            s.delete(ns)

    def delete_contents(
        self, ctx: RequestContext, namespace: str, kind: type[MetadefObject | MetadefProperty]
    ) -> None:
        """Delete every object (``MetadefObject``) or property (``MetadefProperty``) of a
        namespace (or every tag, ``delete_tags``).

        Raises:
            MetadefNotFound (404). MetadefProtected (403).
        """
        with self.db.transaction() as s:
            ns = self._load(s, ctx, namespace, deleting=True)
            s.execute(sa.delete(kind).where(kind.namespace_id == ns.id))

    def bootstrap(self, owner: str | None) -> None:
        """Load the standard namespaces (``STANDARD_NAMESPACES``) that are missing, owned by
        ``owner`` (the admin project), as ``glance-manage db load_metadefs`` loads Glance's;
        idempotent: one that exists (changed by an admin or not) is left as it is."""
        ctx = RequestContext.system()
        with self.db.reader() as s:
            have = set(s.scalars(sa.select(MetadefNamespace.namespace)))
        for body in STANDARD_NAMESPACES:
            if body["namespace"] not in have:
                try:
                    self.create_namespace(ctx, {**body, "owner": owner})
                except (MetadefDuplicate, sa.exc.IntegrityError):
                    pass  # another controller bootstrapping at the same time loaded it

    # -- resource types -------------------------------------------------------------------

    def list_resource_types(self, ctx: RequestContext) -> builtins.list[MetadefResourceType]:
        """Every resource type, by name."""
        with self.db.reader() as s:
            return builtins.list(
                s.scalars(sa.select(MetadefResourceType).order_by(MetadefResourceType.name))
            )

    def list_associations(self, ctx: RequestContext, namespace: str) -> builtins.list[Any]:
        """The namespace's resource type associations, ``(name, row)`` pairs.

        Raises:
            MetadefNotFound (404): unknown or invisible namespace.
        """
        with self.db.reader() as s:
            return self._associations(s, self._load(s, ctx, namespace).id)

    def associate(
        self, ctx: RequestContext, namespace: str, body: dict[str, Any]
    ) -> tuple[str, MetadefResourceTypeAssociation]:
        """Associate the namespace with resource type ``body["name"]`` (created if new, as
        Glance does), with ``prefix`` and ``properties_target``.

        Raises:
            MetadefNotFound (404). MetadefDuplicate (409): associated already.
        """
        with self.db.transaction() as s:
            assoc = self._associate(s, self._load(s, ctx, namespace), body)
            s.flush()
            return body["name"], assoc

    def dissociate(self, ctx: RequestContext, namespace: str, resource_type: str) -> None:
        """Remove the association with ``resource_type``.

        Raises:
            MetadefNotFound (404): unknown namespace, type or association.
            MetadefProtected (403): the namespace is protected.
        """
        with self.db.transaction() as s:
            ns = self._load(s, ctx, namespace, deleting=True)
            row = s.scalars(
                sa.select(MetadefResourceTypeAssociation)
                .join(MetadefResourceType, _ASSOC_JOIN)
                .where(
                    MetadefResourceTypeAssociation.namespace_id == ns.id,
                    MetadefResourceType.name == resource_type,
                )
            ).first()
            if row is None:
                raise MetadefNotFound(
                    "The metadata definition resource-type association of resource-type="
                    f"{resource_type} to namespace={namespace}, was not found."
                )
            s.delete(row)

    def prefix(self, ctx: RequestContext, namespace: str, resource_type: str) -> str:
        """The property name prefix of the namespace's association with ``resource_type``
        (``""`` for none).

        Raises:
            MetadefNotFound (404): unknown namespace or no such association.
        """
        for name, assoc in self.list_associations(ctx, namespace):
            if name == resource_type:
                return assoc.prefix or ""
        raise MetadefNotFound(
            "The metadata definition resource-type association of resource-type="
            f"{resource_type} to namespace={namespace}, was not found."
        )

    # -- objects, properties, tags ---------------------------------------------------------

    def list_children(
        self, ctx: RequestContext, namespace: str, kind: type[Child]
    ) -> builtins.list[Any]:
        """The namespace's objects, properties or tags (``kind``), by name.

        Raises:
            MetadefNotFound (404): unknown or invisible namespace.
        """
        with self.db.reader() as s:
            return self._children(s, kind, self._load(s, ctx, namespace).id)

    def list_tags(
        self, ctx: RequestContext, namespace: str, page: Page
    ) -> builtins.list[MetadefTag]:
        """The namespace's tags, paged (``Page``; the marker is a tag name)."""
        rows = self.list_children(ctx, namespace, MetadefTag)
        return page.apply(rows, lambda t: t.name)

    def get_child(self, ctx: RequestContext, namespace: str, kind: type[Child], name: str) -> Any:
        """One object, property or tag of the namespace.

        Raises:
            MetadefNotFound (404): unknown namespace or name.
        """
        with self.db.reader() as s:
            return self._child(s, self._load(s, ctx, namespace), kind, name)

    def create_object(self, ctx: RequestContext, namespace: str, body: dict[str, Any]) -> Any:
        """Add an object (``schemas.OBJECT``). Raises MetadefNotFound, MetadefDuplicate."""
        return self._create(ctx, namespace, lambda s, ns: self._add_object(s, ns, body))

    def create_property(self, ctx: RequestContext, namespace: str, body: dict[str, Any]) -> Any:
        """Add a property (``schemas.PROPERTY``). Raises MetadefNotFound, MetadefDuplicate."""
        return self._create(ctx, namespace, lambda s, ns: self._add_property(s, ns, body))

    def create_tag(self, ctx: RequestContext, namespace: str, name: str) -> Any:
        """Add one tag. Raises MetadefNotFound, MetadefDuplicate."""
        return self._create(ctx, namespace, lambda s, ns: self._add_tag(s, ns, name))

    def create_tags(
        self, ctx: RequestContext, namespace: str, names: builtins.list[str], append: bool
    ) -> builtins.list[MetadefTag]:
        """Set the namespace's tags to ``names`` (Glance's bulk create), or add them to the
        existing ones with ``append`` (``X-Openstack-Append: true``).

        Raises:
            MetadefNotFound (404). MetadefDuplicate (409): a name twice in ``names``, or
            (appending) a tag the namespace has.
        """
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise MetadefDuplicate(f"Duplicate tag name(s) in request: {dup}")
        with self.db.transaction() as s:
            ns = self._load(s, ctx, namespace)
            if not append:
                s.execute(sa.delete(MetadefTag).where(MetadefTag.namespace_id == ns.id))
            tags = [self._add_tag(s, ns, n) for n in names]
            s.flush()
            return tags

    def update_child(
        self,
        ctx: RequestContext,
        namespace: str,
        kind: type[Child],
        name: str,
        body: dict[str, Any],
    ) -> Any:
        """Replace an object, property or tag (a new ``name`` renames it).

        Raises:
            MetadefNotFound (404). MetadefDuplicate (409): the new name is taken.
        """
        with self.db.transaction() as s:
            ns = self._load(s, ctx, namespace)
            row = self._child(s, ns, kind, name)
            if body["name"] != name:
                self._check_child_free(s, ns, kind, body["name"])
            row.name = body["name"]
            if isinstance(row, MetadefObject):
                row.description = body.get("description")
                row.required = body.get("required")
                row.properties = body.get("properties")
            elif isinstance(row, MetadefProperty):
                row.json_schema = _definition(body)
            s.flush()
            return row

    def delete_child(
        self, ctx: RequestContext, namespace: str, kind: type[Child], name: str
    ) -> None:
        """Delete an object, property or tag.

        Raises:
            MetadefNotFound (404). MetadefProtected (403): the namespace is protected.
        """
        with self.db.transaction() as s:
            ns = self._load(s, ctx, namespace)
            row = self._child(s, ns, kind, name)
            if ns.protected:
                raise MetadefProtected(
                    f"Metadata definition {_KINDS[kind]} {name} is protected and cannot be deleted."
                )
            s.delete(row)

    def delete_tags(self, ctx: RequestContext, namespace: str) -> None:
        """Delete every tag of the namespace. Raises MetadefNotFound, MetadefProtected."""
        with self.db.transaction() as s:
            ns = self._load(s, ctx, namespace, deleting=True)
            s.execute(sa.delete(MetadefTag).where(MetadefTag.namespace_id == ns.id))

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _load(
        s: Session, ctx: RequestContext, namespace: str, deleting: bool = False
    ) -> MetadefNamespace:
        ns = s.scalars(
            sa.select(MetadefNamespace).where(MetadefNamespace.namespace == namespace)
        ).first()
        if ns is None or not _visible(ctx, ns):
            raise _not_found(namespace)
        if deleting and ns.protected:
            raise MetadefProtected(
                f"Metadata definition namespace {namespace} is protected and cannot be deleted."
            )
        return ns

    @staticmethod
    def _check_free(s: Session, name: str) -> None:
        taken = s.scalar(sa.select(MetadefNamespace.id).where(MetadefNamespace.namespace == name))
        if taken is not None:
            raise MetadefDuplicate(f"The metadata definition namespace={name} already exists.")

    @staticmethod
    def _associations(s: Session, namespace_id: int) -> builtins.list[Any]:
        rows = s.execute(
            sa.select(MetadefResourceType.name, MetadefResourceTypeAssociation)
            .join(MetadefResourceTypeAssociation, _ASSOC_JOIN)
            .where(MetadefResourceTypeAssociation.namespace_id == namespace_id)
            .order_by(MetadefResourceType.name)
        )
        return [(name, assoc) for name, assoc in rows]

    @staticmethod
    def _children(s: Session, kind: type[Child], namespace_id: int) -> builtins.list[Any]:
        q = sa.select(kind).where(kind.namespace_id == namespace_id).order_by(kind.name)
        return builtins.list(s.scalars(q))

    @staticmethod
    def _child(s: Session, ns: MetadefNamespace, kind: type[Child], name: str) -> Any:
        row = s.scalars(
            sa.select(kind).where(kind.namespace_id == ns.id, kind.name == name)
        ).first()
        if row is None:
            what = _KINDS[kind]
            raise MetadefNotFound(
                f"The metadata definition {what} with name={name} was not found in "
                f"namespace={ns.namespace}."
            )
        return row

    @staticmethod
    def _check_child_free(s: Session, ns: MetadefNamespace, kind: type[Child], name: str) -> None:
        taken = s.scalar(sa.select(kind.id).where(kind.namespace_id == ns.id, kind.name == name))
        if taken is not None:
            raise MetadefDuplicate(
                f"A metadata definition {_KINDS[kind]} with name={name} already exists in "
                f"namespace={ns.namespace}."
            )

    def _create(
        self, ctx: RequestContext, namespace: str, add: Callable[[Session, MetadefNamespace], Any]
    ) -> Any:
        with self.db.transaction() as s:
            row = add(s, self._load(s, ctx, namespace))
            s.flush()
            return row

    def _associate(
        self, s: Session, ns: MetadefNamespace, body: dict[str, Any]
    ) -> MetadefResourceTypeAssociation:
        rtype = s.scalars(
            sa.select(MetadefResourceType).where(MetadefResourceType.name == body["name"])
        ).first()
        if rtype is None:
            rtype = MetadefResourceType(name=body["name"], protected=False)
            s.add(rtype)
            s.flush()
        taken = s.scalar(
            sa.select(MetadefResourceTypeAssociation.id).where(
                MetadefResourceTypeAssociation.namespace_id == ns.id,
                MetadefResourceTypeAssociation.resource_type_id == rtype.id,
            )
        )
        if taken is not None:
            raise MetadefDuplicate(
                "The metadata definition resource-type association of resource-type="
                f"{body['name']} to namespace={ns.namespace} already exists."
            )
        assoc = MetadefResourceTypeAssociation(
            namespace_id=ns.id,
            resource_type_id=rtype.id,
            prefix=body.get("prefix"),
            properties_target=body.get("properties_target"),
        )
        s.add(assoc)
        return assoc

    def _add_object(self, s: Session, ns: MetadefNamespace, body: dict[str, Any]) -> MetadefObject:
        self._check_child_free(s, ns, MetadefObject, body["name"])
        row = MetadefObject(
            namespace_id=ns.id,
            name=body["name"],
            description=body.get("description"),
            required=body.get("required"),
            properties=body.get("properties"),
        )
        s.add(row)
        s.flush()
        return row

    def _add_property(
        self, s: Session, ns: MetadefNamespace, body: dict[str, Any]
    ) -> MetadefProperty:
        self._check_child_free(s, ns, MetadefProperty, body["name"])
        row = MetadefProperty(namespace_id=ns.id, name=body["name"], json_schema=_definition(body))
        s.add(row)
        s.flush()
        return row

    def _add_tag(self, s: Session, ns: MetadefNamespace, name: str) -> MetadefTag:
        self._check_child_free(s, ns, MetadefTag, name)
        row = MetadefTag(namespace_id=ns.id, name=name)
        s.add(row)
        s.flush()
        return row


#: Namespaces loaded at bootstrap: Glance's "Common Operating System Properties"
#: (``OS::OperatingSystem``), whose ``os_distro`` the default image sets and whose
#: ``os_admin_user`` the compute service reads.
STANDARD_NAMESPACES: tuple[dict[str, Any], ...] = (
    {
        "namespace": "OS::OperatingSystem",
        "display_name": "Common Operating System Properties",
        "description": "Properties naming the operating system an image or volume holds.",
        "visibility": "public",
        "protected": True,
        "resource_type_associations": [
            {"name": "OS::Glance::Image"},
            {"name": "OS::Cinder::Volume", "properties_target": "image"},
        ],
        "properties": {
            "os_distro": {
                "title": "OS Distro",
                "description": "The distribution's common name, in lowercase (libosinfo's "
                "vocabulary: ubuntu, debian, fedora, centos, windows...).",
                "type": "string",
            },
            "os_version": {
                "title": "OS Version",
                "description": "The distribution's own version string (e.g. '12').",
                "type": "string",
            },
            "os_admin_user": {
                "title": "OS Admin User",
                "description": "The guest's administrator account (whose password "
                "'server set --root-password' changes).",
                "type": "string",
            },
        },
    },
)

_KINDS: dict[type, str] = {MetadefObject: "object", MetadefProperty: "property", MetadefTag: "tag"}
_READ_ONLY = ("name", "created_at", "updated_at", "self", "schema")


def _definition(body: dict[str, Any]) -> dict[str, Any]:
    """A property body without its name (and read-only keys): what is stored."""
    return {k: v for k, v in body.items() if k not in _READ_ONLY}

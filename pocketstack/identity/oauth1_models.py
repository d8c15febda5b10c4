"""Identity tables of OS-OAUTH1 (alembic 0024): consumers, request tokens, access tokens.

Every secret (a consumer's, a request token's, an access token's) is needed in clear to
check an HMAC-SHA1 signature, so it is stored encrypted (a Fernet token made with the
credential keys, as ``credentials.Credentials`` stores blobs), never in clear. Ids are 32
hex characters (Keystone's form, which its OAuth validator requires).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.common.db import Base, utcnow
from pocketstack.identity.models import _hex_id


class Consumer(Base):
    """An OAuth consumer (an application that may ask users for delegated access)."""

    __tablename__ = "identity_oauth_consumers"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    encrypted_secret: Mapped[str] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class RequestToken(Base):
    """A consumer's request for access to ``requested_project_id``; once a user authorizes
    it (``authorizing_user_id``, ``role_ids``, ``verifier`` set) it can be exchanged once for
    an access token. ``expires_at`` (UTC; None: never) ends it."""

    __tablename__ = "identity_oauth_request_tokens"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    consumer_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_oauth_consumers.id", ondelete="CASCADE"), index=True
    )
    encrypted_secret: Mapped[str] = mapped_column(sa.Text)
    requested_project_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_projects.id", ondelete="CASCADE")
    )
    authorizing_user_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("identity_users.id", ondelete="CASCADE"), default=None
    )
    role_ids: Mapped[list[Any] | None] = mapped_column(sa.JSON, default=None)
    verifier: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)


class AccessToken(Base):
    """A user's delegation of ``role_ids`` on ``project_id`` to a consumer, with which the
    consumer gets Keystone tokens (method ``oauth1``). ``expires_at`` UTC; None: never."""

    __tablename__ = "identity_oauth_access_tokens"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    consumer_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_oauth_consumers.id", ondelete="CASCADE"), index=True
    )
    encrypted_secret: Mapped[str] = mapped_column(sa.Text)
    authorizing_user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_users.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_projects.id", ondelete="CASCADE")
    )
    role_ids: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)

"""Exports of volumes to initiators: iSCSI with tgt (``tgt.py``), NBD with
qemu-storage-daemon (``nbd.py``). docs/block-storage.md, "Export protocol"."""

from __future__ import annotations

from pocketstack.common.errors import PocketError


class TargetError(PocketError):
    """An export could not be made, changed or removed (a ``tgtadm`` or daemon failure);
    the message says which command failed and what it printed."""

    status = 500
    title = "Volume export error"


def iqn(volume_id: str) -> str:
    """The IQN of a volume's target, as Cinder's: ``iqn.2010-10.org.openstack:volume-<id>``."""
    return f"iqn.2010-10.org.openstack:volume-{volume_id}"


def chap_user(attachment_id: str) -> str:
    """The CHAP user of one attachment: ``att-<attachment_id[:8]>``."""
    return f"att-{attachment_id[:8]}"

"""The node's recon cache: the last pass of each consistency service, as JSON in
``<devices root>/object.recon`` (Swift's ``dump_recon_cache``), read by ``recon.py``. Kept
apart from the services so they can all write it without importing one another.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from pocketstack.objectstore.utils import write_atomic

LOG = logging.getLogger(__name__)
RECON_FILE = "object.recon"
_RECON_LOCK = threading.Lock()


def dump_recon(root: Path, key: str, value: object) -> None:
    """Set ``key`` in the node's recon cache ``<root>/object.recon`` (Swift's
    ``dump_recon_cache``), written atomically; a failure to write is only logged."""
    with _RECON_LOCK:
        data = load_recon(root)
        data[key] = value
        try:
            write_atomic(root / RECON_FILE, json.dumps(data).encode())
        except OSError as exc:
            LOG.warning("recon cache %s: %s", root / RECON_FILE, exc)


def load_recon(root: Path) -> dict:
    """The node's recon cache (empty when there is none yet)."""
    try:
        data = json.loads((root / RECON_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}

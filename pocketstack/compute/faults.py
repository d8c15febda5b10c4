"""The fault a failed guest operation leaves on its server, as a compute agent reports it to
the conductor: ``{"message": str, "code": int, "traceback": str}`` (Nova's instance fault).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from pocketstack.common import errors

LOG = logging.getLogger(__name__)


def fault_message(exc: BaseException, what: str, uuid: str) -> str:
    """The fault a failed guest operation leaves on its server.

    A guest operation catches every exception so that its server never stays stuck in a task
    (it goes ERROR, or back to its state, with a fault). A ``PocketError`` (``DriverError``...)
    is an expected failure: its message is the fault. Anything else is a bug: logged here with
    its traceback, and the fault names its class.
    """
    if isinstance(exc, errors.PocketError):
        return exc.message
    LOG.error("%s of %s failed unexpectedly", what, uuid, exc_info=exc)
    return f"{type(exc).__name__}: {exc}"


def fault(exc: BaseException, what: str, uuid: str, code: int = 500) -> dict[str, Any]:
    """The fault of a failed guest operation as reported to the conductor:
    ``{"message": fault_message(...), "code": code, "traceback": its traceback}``."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"message": fault_message(exc, what, uuid), "code": code, "traceback": tb[-8000:]}

"""The standard clients' status polls, made frequent for tests against a local cloud.

openstacksdk's ``wait_for_status``/``wait_for_delete`` poll every 2 s and the ``openstack``
CLI's ``--wait`` (osc-lib's ``wait_for_status``/``wait_for_delete``) every 5 s: sensible
against a remote cloud whose servers take minutes, but against a local one whose fake
driver answers in well under a second they were most of the suite's waiting. ``quicken``
makes both poll every ``POLL`` seconds. What is waited for, the statuses that end a wait
and the timeouts are unchanged; only the delay between two polls is shorter.
"""

from __future__ import annotations

import functools
from typing import Any

#: seconds between two polls of a client's wait
POLL = 0.25


def quicken() -> None:
    """Patch openstacksdk's ``resource.wait_for_status``/``wait_for_delete`` (proxies call
    them through the module) and osc-lib's defaults (the CLI's commands call
    ``utils.wait_for_status(...)`` without a ``sleep_time``). Idempotent."""
    from openstack import resource

    for name in ("wait_for_status", "wait_for_delete"):
        original = getattr(resource, name)
        if getattr(original, "_quickened", False):
            continue
        setattr(resource, name, _clamped(original))
    try:
        from osc_lib import utils
    except ImportError:  # the CLI is not installed in this interpreter
        return
    for fn in (utils.wait_for_status, utils.wait_for_delete):
        names = fn.__code__.co_varnames[: fn.__code__.co_argcount]
        defaults = list(fn.__defaults__ or ())
        index = names.index("sleep_time") - (len(names) - len(defaults))
        defaults[index] = POLL
        fn.__defaults__ = tuple(defaults)


def _clamped(original: Any) -> Any:
    """``original`` with its ``interval`` (keyword or positional) at most ``POLL``."""
    # after (session, resource): wait_for_status(status, failures, interval, wait, ...),
    # wait_for_delete(interval, wait, ...)
    index = 2 if original.__name__ == "wait_for_status" else 0

    @functools.wraps(original)
    def wait(session: Any, res: Any, *args: Any, **kwargs: Any) -> Any:
        rest = list(args)
        if "interval" in kwargs:
            kwargs["interval"] = min(kwargs["interval"] or POLL, POLL)
        elif len(rest) > index:
            rest[index] = min(rest[index] or POLL, POLL)
        else:
            kwargs["interval"] = POLL
        return original(session, res, *rest, **kwargs)

    wait._quickened = True  # type: ignore[attr-defined]
    return wait

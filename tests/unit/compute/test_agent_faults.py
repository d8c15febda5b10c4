"""The fault a failed guest operation leaves (pocketstack.compute.agent): a driver's error is
the user's message; a bug is logged with its traceback, once, and not mistaken for one."""

from __future__ import annotations

import logging

from pocketstack.compute.drivers.base import DriverError
from pocketstack.compute.faults import fault_message as _fault_message


def test_a_driver_error_is_the_fault_and_logs_no_traceback(caplog):
    with caplog.at_level(logging.DEBUG, logger="pocketstack.compute.agent"):
        assert _fault_message(DriverError("disk full"), "spawn", "u1") == "disk full"
    assert [r for r in caplog.records if r.exc_info] == []


def test_a_bug_names_its_class_and_its_traceback_is_logged_once(caplog):
    try:
        {}["missing"]
    except KeyError as exc:
        bug = exc
    with caplog.at_level(logging.DEBUG, logger="pocketstack.compute.agent"):
        assert _fault_message(bug, "reboot", "u1") == "KeyError: 'missing'"
    (record,) = caplog.records
    assert record.exc_info and "reboot of u1 failed unexpectedly" in record.getMessage()

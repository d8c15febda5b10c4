"""The session's leak check (``tests/leaks.py``) sees a namespace, a root link and an
nftables table with pocketstack's names once they exist, and not once they are gone."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from tests import leaks

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def test_new_objects_are_seen_and_gone_ones_are_not():
    uid = uuid.uuid4().hex[:6]
    netns, bridge = f"pt{uid}-leak", f"brq{uid}leak"
    before = leaks.kernel_objects()
    _run("ip", "netns", "add", netns)
    try:
        # the link and the table are made in the test's namespace, never the root one, and
        # read there
        _run("ip", "-n", netns, "link", "add", bridge, "type", "bridge")
        _run("ip", "netns", "exec", netns, "nft", "add", "table", "inet", "pocketstack")
        assert f"netns {netns}" in leaks.leaked(before, grace=0)
        inside = leaks.kernel_objects(netns=netns)
        assert {f"link {bridge}", "nft inet pocketstack"} <= inside
    finally:
        _run("ip", "netns", "del", netns)
    assert f"netns {netns}" not in leaks.leaked(before, grace=0)

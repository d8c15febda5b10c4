"""The spec a build sends its agent (pocketstack.compute.instance_spec.build_spec): the image's
store file and its URL; a failure to name the file is a bug that fails the build, never an
empty path the agent would have to guess around."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from pocketstack.compute.instance_spec import build_spec

IMAGE = {"id": "img-1", "disk_format": "qcow2", "size": 3}


def _inst() -> types.SimpleNamespace:
    fields = (
        "uuid name hostname project_id user_id vcpus memory_mb root_gb ephemeral_gb "
        "metadata_ user_data key_name key_data launch_index config_drive flavor requested_networks"
    )
    return types.SimpleNamespace(**dict.fromkeys(fields.split()))


def _cloud(image_path) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        conf=types.SimpleNamespace(public_url="http://127.0.0.1:8780"),
        image=types.SimpleNamespace(image_path=image_path),
    )


def test_the_spec_names_the_store_file_and_the_download_url():
    cloud = _cloud(lambda image_id: Path("/store") / image_id)
    spec = build_spec(cloud, _inst(), IMAGE, [], None, "host-1")
    assert spec["image"]["path"] == "/store/img-1"
    assert spec["image"]["url"] == "http://127.0.0.1:8780/image/v2/images/img-1/file"


def test_a_bug_naming_the_file_propagates_instead_of_an_empty_path():
    def broken(image_id: str) -> Path:
        raise RuntimeError("a bug in the image service")

    with pytest.raises(RuntimeError):
        build_spec(_cloud(broken), _inst(), IMAGE, [], None, "host-1")


def test_the_flavors_ephemeral_and_swap_are_in_the_spec():
    inst = _inst()
    inst.ephemeral_gb, inst.flavor = 2, {"swap": 512, "ephemeral": 2}
    spec = build_spec(
        _cloud(lambda image_id: Path("/store") / image_id), inst, IMAGE, [], None, "h"
    )
    assert (spec["ephemeral_gb"], spec["swap_mb"]) == (2, 512)
    assert build_spec(_cloud(lambda i: Path("/s")), _inst(), IMAGE, [], None, "h")["swap_mb"] == 0

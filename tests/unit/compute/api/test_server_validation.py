"""``POST /servers`` body validation (no cloud needed)."""

from __future__ import annotations

import base64

import pytest

from pocketstack.common import errors
from pocketstack.compute.api.server_validation import parse_create

NET = "3f1f7a3a-1111-4b4b-8c8c-123456789abc"


def body(**server):
    return {"server": {"name": "vm1", "imageRef": "img", "flavorRef": "1", **server}}


def test_minimal_body_and_defaults():
    kwargs, reservation = parse_create(body())
    assert kwargs["name"] == "vm1" and kwargs["image_id"] == "img"
    assert kwargs["flavor_id"] == "1" and kwargs["networks"] == []
    assert (kwargs["min_count"], kwargs["max_count"]) == (1, 1)
    assert kwargs["config_drive"] is True and reservation is False


def test_refs_may_be_urls_and_flavor_an_int():
    kwargs, _ = parse_create(body(imageRef="http://x/image/v2/images/abc/", flavorRef=2))
    assert (kwargs["image_id"], kwargs["flavor_id"]) == ("abc", "2")


def test_full_body():
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    kwargs, reservation = parse_create(
        body(
            networks=[{"uuid": NET, "fixed_ip": "10.0.0.5"}, {"port": NET}],
            key_name="mykey",
            user_data=user_data,
            metadata={"a": "b"},
            availability_zone="nova",
            security_groups=[{"name": "default"}],
            min_count=2,
            max_count="3",
            accessIPv4="1.2.3.4",
            return_reservation_id=True,
        )
    )
    assert kwargs["networks"] == [{"uuid": NET, "fixed_ip": "10.0.0.5"}, {"port": NET}]
    assert kwargs["security_groups"] == ["default"] and kwargs["user_data"] == user_data
    assert (kwargs["min_count"], kwargs["max_count"]) == (2, 3) and reservation


@pytest.mark.parametrize(
    "server, message",
    [
        ({"name": ""}, "name"),
        ({"name": " vm"}, "name"),
        ({"name": "x" * 256}, "255"),
        ({"name": 5}, "name"),
        ({"flavorRef": None}, "flavorRef"),
        ({"imageRef": ""}, "imageRef"),
        ({"networks": "auto"}, "networks"),
        ({"networks": [{"uuid": "not-a-uuid"}]}, "network uuid"),
        ({"networks": [{"uuid": NET, "fixed_ip": "999.1.1.1"}]}, "fixed IP"),
        ({"networks": [{"bogus": 1}]}, "networks"),
        ({"user_data": "%%%not base64"}, "base 64"),
        ({"user_data": base64.b64encode(b"x" * 65536).decode()}, "too large"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"metadata": {"": "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 256}}, "metadata"),
        ({"security_groups": [{"nom": "x"}]}, "security_groups"),
        ({"min_count": 3, "max_count": 2}, "min_count"),
        ({"min_count": 0}, "min_count"),
        ({"accessIPv4": "nope"}, "accessIPv4"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(server, message):
    with pytest.raises(errors.BadRequest, match=message):
        parse_create(body(**server))


def test_missing_server_object():
    with pytest.raises(errors.BadRequest, match="server"):
        parse_create({"servers": {}})

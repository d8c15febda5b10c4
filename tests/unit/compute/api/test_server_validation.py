"""``POST /servers`` body checks (no cloud needed): the schema (``schemas.SERVER_CREATE``)
then ``parse_create``, in the order the HTTP layer and the handler apply them."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from pocketstack.common import errors
from pocketstack.common.validation import BodySchema
from pocketstack.compute.api import schemas
from pocketstack.compute.api.server_validation import parse_create

NET = "3f1f7a3a-1111-4b4b-8c8c-123456789abc"
IMAGE = "0b7f1c2e-2222-4c4c-9d9d-abcdefabcdef"
SCHEMA = BodySchema(schemas.SERVER_CREATE)


def body(**server: Any) -> dict[str, Any]:
    return {"server": {"name": "vm1", "imageRef": IMAGE, "flavorRef": "1", **server}}


def check(request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    SCHEMA.validate(request)
    return parse_create(request)


def test_minimal_body_and_defaults():
    kwargs, reservation = check(body())
    assert kwargs["name"] == "vm1" and kwargs["image_id"] == IMAGE
    assert kwargs["flavor_id"] == "1" and kwargs["networks"] == []
    assert (kwargs["min_count"], kwargs["max_count"]) == (1, 1)
    assert kwargs["config_drive"] is True and reservation is False
    assert kwargs["security_groups"] is None and kwargs["metadata"] == {}


def test_flavor_ref_may_be_a_url_or_an_int():
    kwargs, _ = check(body(flavorRef="http://x/compute/v2.1/flavors/abc/"))
    assert kwargs["flavor_id"] == "abc"
    assert check(body(flavorRef=2))[0]["flavor_id"] == "2"


def test_full_body():
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    kwargs, reservation = check(
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
            return_reservation_id="True",
            config_drive="off",
        )
    )
    assert kwargs["networks"] == [{"uuid": NET, "fixed_ip": "10.0.0.5"}, {"port": NET}]
    assert kwargs["security_groups"] == ["default"] and kwargs["user_data"] == user_data
    assert (kwargs["min_count"], kwargs["max_count"]) == (2, 3) and reservation
    assert kwargs["config_drive"] is False and kwargs["access_ip_v4"] == "1.2.3.4"


@pytest.mark.parametrize(
    "server, message",
    [
        ({"name": ""}, "name"),
        ({"name": " vm"}, "name"),
        ({"name": "vm\n"}, "name"),
        ({"name": "x" * 256}, "255"),
        ({"name": 5}, "name"),
        ({"flavorRef": None}, "flavorRef"),
        ({"imageRef": ""}, "imageRef"),
        ({"imageRef": "http://x/image/v2/images/abc/"}, "imageRef"),
        ({"networks": [{"uuid": "not-a-uuid"}]}, "network uuid"),
        ({"networks": [{"uuid": NET, "fixed_ip": "999.1.1.1"}]}, "fixed IP"),
        ({"networks": [{"uuid": NET, "tag": "a/b"}]}, "networks"),  # no / in a tag (2.32+)
        ({"networks": [{"bogus": 1}]}, "networks"),
        ({"user_data": "%%%not base64"}, "base 64"),
        ({"user_data": base64.b64encode(b"x" * 65536).decode()}, "user_data"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"metadata": {"": "v"}}, "metadata"),
        ({"metadata": {"k/1": "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 256}}, "metadata"),
        ({"security_groups": [{"nom": "x"}]}, "security_groups"),
        ({"min_count": 3, "max_count": 2}, "min_count"),
        ({"min_count": 0}, "min_count"),
        ({"min_count": "0"}, "min_count"),
        ({"max_count": "99999999999"}, "max_count"),
        ({"accessIPv4": "nope"}, "accessIPv4"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(server, message):
    with pytest.raises(errors.BadRequest, match=message):
        check(body(**server))


def test_missing_server_object():
    with pytest.raises(errors.BadRequest, match="server"):
        check({"servers": {}})

"""Regression tests for Image API failures the interop guideline's tempest tests found
(``make interop``, README "Interop"), through raw HTTP where no client sends the request."""

from __future__ import annotations

import uuid

import requests

V20_PATCH = "application/openstack-images-v2.0-json-patch"


def test_update_with_the_v2_0_draft_10_json_patch_form(running_cloud):
    """tempest's image client (test_update_image) sends ``openstack-images-v2.0-json-patch``
    operations as ``{"replace": "/name", "value": ...}`` (the op is the key); they were 400
    "'op' is a required property". The RFC 6902 form keeps working; a bad value in the
    draft-10 form is 400 as in the other."""
    conn = running_cloud.sdk()
    image = conn.image.create_image(
        name=f"patch-{uuid.uuid4().hex[:8]}", disk_format="raw", container_format="bare"
    )
    url = f"{running_cloud.url}/image/v2/images/{image.id}"
    headers = {"X-Auth-Token": conn.auth_token, "Content-Type": V20_PATCH}
    try:
        ops = [
            {"replace": "/name", "value": "renamed"},
            {"add": "/flavour", "value": "vanilla"},
            {"add": "/colour", "value": "blue"},
        ]
        r = requests.patch(url, json=ops, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        assert (r.json()["name"], r.json()["flavour"], r.json()["colour"]) == (
            "renamed",
            "vanilla",
            "blue",
        )
        r = requests.patch(url, json=[{"remove": "/colour"}], headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        assert "colour" not in r.json()
        shown = conn.image.get_image(image.id)
        assert shown.name == "renamed" and shown.properties.get("flavour") == "vanilla"
        rfc = [{"op": "replace", "path": "/name", "value": "again"}]
        r = requests.patch(url, json=rfc, headers=headers, timeout=30)
        assert r.status_code == 200 and r.json()["name"] == "again", r.text
        for bad in (
            [{"replace": "/name", "value": "x" * 300}],
            [{"replace": "/name"}],
            [{"replace": "/name", "add": "/x", "value": "y"}],
        ):
            r = requests.patch(url, json=bad, headers=headers, timeout=30)
            assert r.status_code == 400, (bad, r.text)
    finally:
        conn.image.delete_image(image.id)


def test_empty_image_id_is_404(running_cloud):
    """``GET``/``DELETE /v2/images/`` (an empty id, tempest's test_get_image_null_id and
    test_delete_image_null_id) are 404 as in Glance; they were answered as the collection
    (a 200 list, a 405)."""
    conn = running_cloud.sdk()
    headers = {"X-Auth-Token": conn.auth_token}
    for method in ("GET", "DELETE"):
        r = requests.request(
            method, f"{running_cloud.url}/image/v2/images/", headers=headers, timeout=30
        )
        assert r.status_code == 404, (method, r.text)
        assert r.json()["code"] == 404
    r = requests.get(f"{running_cloud.url}/image/v2/images", headers=headers, timeout=30)
    assert r.status_code == 200 and "images" in r.json()


def test_list_images_by_size(running_cloud):
    """``size=N`` lists the images of exactly N bytes (tempest's
    test_list_images_param_size); it was taken as an extra-property filter and found
    nothing. ``size_min``/``size_max`` bound it."""
    conn = running_cloud.sdk()
    suffix = uuid.uuid4().hex[:8]
    small = conn.image.create_image(
        name=f"size-a-{suffix}", disk_format="raw", container_format="bare", data=b"x" * 1031
    )
    large = conn.image.create_image(
        name=f"size-b-{suffix}", disk_format="raw", container_format="bare", data=b"x" * 2053
    )
    url = f"{running_cloud.url}/image/v2/images"
    headers = {"X-Auth-Token": conn.auth_token}
    try:

        def names(**query: object) -> set[str]:
            r = requests.get(url, params=query, headers=headers, timeout=30)
            assert r.status_code == 200, r.text
            return {i["name"] for i in r.json()["images"] if i["name"].endswith(suffix)}

        assert names(size=1031) == {small.name}
        assert names(size=2053) == {large.name}
        assert names(size=7) == set()
        assert names(size_min=1000, size_max=2000) == {small.name}
        assert names(size_min=2000) == {large.name}
        r = requests.get(url, params={"size": "big"}, headers=headers, timeout=30)
        assert r.status_code == 400, r.text
    finally:
        conn.image.delete_image(small.id)
        conn.image.delete_image(large.id)

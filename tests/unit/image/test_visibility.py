"""Who sees which image: public, private, shared with members, community; admin sees all."""

from __future__ import annotations

import pytest

from pocketstack.image.exceptions import ImageForbidden, ImageNotFound, MemberNotFound


def create(images, ctx, name, **core):
    return images.create(
        ctx, {"name": name, "disk_format": "raw", "container_format": "bare", **core}, {}
    )


def names(images, ctx, **filters):
    return sorted(i.name for i in images.list(ctx, filters).images)


def test_private_image_is_hidden_from_other_projects(images, demo, alt, admin):
    img = create(images, demo, "mine", visibility="private")
    assert images.get(demo, img.id).owner == "p-demo"
    with pytest.raises(ImageNotFound):
        images.get(alt, img.id)
    assert names(images, alt) == []
    assert names(images, admin) == ["mine"]
    assert images.get(admin, img.id).id == img.id


def test_public_image_is_listed_for_everyone_but_only_admin_creates_one(images, demo, alt, admin):
    with pytest.raises(ImageForbidden):
        create(images, demo, "pub", visibility="public")
    create(images, admin, "pub", visibility="public")
    assert names(images, alt) == ["pub"]
    assert names(images, demo, visibility="public") == ["pub"]


def test_default_visibility_is_shared_and_members_see_accepted_images(cloud, images, demo, alt):
    img = create(images, demo, "img")
    assert img.visibility == "shared"
    with pytest.raises(ImageNotFound):
        images.get(alt, img.id)
    member = cloud.image.members.create(demo, img.id, "p-alt")
    assert member.status == "pending"
    assert images.get(alt, img.id).id == img.id  # by id, whatever the status
    assert names(images, alt) == []
    assert names(images, alt, member_status="pending") == ["img"]
    cloud.image.members.update(alt, img.id, "p-alt", "accepted")
    assert names(images, alt) == ["img"]
    assert names(images, alt, visibility="shared") == ["img"]
    cloud.image.members.update(alt, img.id, "p-alt", "rejected")
    assert names(images, alt) == []


def test_only_the_owner_manages_members_and_only_the_member_sets_its_status(
    cloud, images, demo, alt
):
    members = cloud.image.members
    img = create(images, demo, "img")
    members.create(demo, img.id, "p-alt")
    with pytest.raises(ImageForbidden):
        members.create(alt, img.id, "p-other")
    with pytest.raises(ImageForbidden):
        members.update(demo, img.id, "p-alt", "accepted")
    with pytest.raises(ImageForbidden):
        members.delete(alt, img.id, "p-alt")
    assert [m.member_id for m in members.list(alt, img.id)] == ["p-alt"]
    members.delete(demo, img.id, "p-alt")
    with pytest.raises(ImageNotFound):
        images.get(alt, img.id)
    with pytest.raises(MemberNotFound):
        members.get(demo, img.id, "p-alt")


def test_private_images_have_no_members(cloud, images, demo):
    img = create(images, demo, "img", visibility="private")
    with pytest.raises(ImageForbidden):
        cloud.image.members.create(demo, img.id, "p-alt")


def test_community_image_is_seen_by_id_and_listed_only_when_asked(images, demo, alt):
    img = create(images, demo, "comm", visibility="community")
    assert images.get(alt, img.id).visibility == "community"
    assert names(images, alt) == []
    assert names(images, alt, visibility="community") == ["comm"]
    assert names(images, demo) == ["comm"]  # the owner's own images are always listed


def test_others_may_see_but_not_change_a_public_image(images, demo, admin):
    img = create(images, admin, "pub", visibility="public")
    with pytest.raises(ImageForbidden):
        images.update(demo, img.id, [("replace", "name", "x")])
    with pytest.raises(ImageForbidden):
        images.delete(demo, img.id)


def test_private_filter_lists_only_own_private_images(images, demo, alt):
    create(images, demo, "a", visibility="private")
    create(images, demo, "b")
    create(images, alt, "c", visibility="private")
    assert names(images, demo, visibility="private") == ["a"]
    assert names(images, demo) == ["a", "b"]

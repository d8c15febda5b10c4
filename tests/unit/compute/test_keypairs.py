"""Keypairs: import (several keys), generate, per-user scope, errors, quota."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute.keypairs import InvalidKeypair, KeypairExists, KeypairNotFound

DEMO = RequestContext(user_id="u-demo", project_id="p-demo", roles=("member",))
OTHER = RequestContext(user_id="u-other", project_id="p-demo", roles=("member",))


def public_key(comment: str = "me@host") -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    return f"{line} {comment}"


def md5_fingerprint(line: str) -> str:
    digest = hashlib.md5(base64.b64decode(line.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def test_import_keeps_every_key_and_fingerprints_the_first(cloud):
    first, second = public_key("a"), public_key("b")
    kp, private = cloud.compute.keypairs.create(DEMO, "mykey", f"{first}\n\n{second}\n")
    assert private is None
    assert kp.public_key == f"{first}\n\n{second}\n"  # exactly as given, as Nova keeps it
    assert kp.fingerprint == md5_fingerprint(first)
    assert cloud.compute.keypairs.get(DEMO, "mykey").public_key == kp.public_key


def test_generate_returns_the_private_key_once(cloud):
    kp, private = cloud.compute.keypairs.create(DEMO, "gen")
    assert private.startswith("-----BEGIN RSA PRIVATE KEY-----")
    loaded = serialization.load_pem_private_key(private.encode(), password=None)
    expected = (
        loaded.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    assert kp.public_key.startswith(expected)


def test_keypairs_are_per_user(cloud):
    cloud.compute.keypairs.create(DEMO, "mykey", public_key())
    with pytest.raises(KeypairNotFound):
        cloud.compute.keypairs.get(OTHER, "mykey")
    assert cloud.compute.keypairs.list(OTHER) == []
    cloud.compute.keypairs.create(OTHER, "mykey", public_key())  # same name, other user
    with pytest.raises(errors.PolicyNotAuthorized):
        cloud.compute.keypairs.get(OTHER, "mykey", user_id="u-demo")


def test_bad_keys_and_names_are_400_and_duplicates_409(cloud):
    with pytest.raises(InvalidKeypair):
        cloud.compute.keypairs.create(DEMO, "k", "ssh-rsa not-base64!")
    with pytest.raises(InvalidKeypair):
        cloud.compute.keypairs.create(DEMO, "k", f"{public_key()}\ngarbage line")
    with pytest.raises(InvalidKeypair):
        cloud.compute.keypairs.create(DEMO, "bad/name", public_key())
    cloud.compute.keypairs.create(DEMO, "k", public_key())
    with pytest.raises(KeypairExists, match="Key pair 'k' already exists."):
        cloud.compute.keypairs.create(DEMO, "k", public_key())


def test_an_unknown_key_type_is_400_naming_it_and_a_bug_is_not_taken_for_a_bad_key(
    monkeypatch,
):
    from pocketstack.compute import keypairs

    with pytest.raises(InvalidKeypair, match="unsupported key type 'ssh-foo'"):
        keypairs.validate_public_keys("ssh-foo AAAAB3NzaC1yc2EAAAADAQABAAABAQ")

    def broken(_data: bytes) -> None:
        raise RuntimeError("a bug in the parser")

    monkeypatch.setattr(keypairs.serialization, "load_ssh_public_key", broken)
    with pytest.raises(RuntimeError):
        keypairs.validate_public_keys(public_key())


def test_delete_and_quota(cloud):
    cloud.compute.quotas.update(DEMO, "p-demo", {"key_pairs": 1})
    cloud.compute.keypairs.create(DEMO, "one", public_key())
    with pytest.raises(errors.QuotaExceeded):
        cloud.compute.keypairs.create(DEMO, "two", public_key())
    cloud.compute.keypairs.delete(DEMO, "one")
    with pytest.raises(KeypairNotFound):
        cloud.compute.keypairs.delete(DEMO, "one")
    cloud.compute.keypairs.create(DEMO, "two", public_key())

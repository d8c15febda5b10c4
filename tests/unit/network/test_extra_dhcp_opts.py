"""Ports' extra DHCP options (``network.extra_dhcp_opts``) through the port API's parsers and
the manager: stored on create, merged by (opt_name, ip_version) on update, removed by a
null value, refused with a 400 when Neutron's rules are broken."""

from __future__ import annotations

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.network import exceptions as exc
from pocketstack.network import extra_dhcp_opts

DEMO = RequestContext(user_id="u1", project_id="demo", roles=("member",))


def opt(name, value, ip_version=4):
    return {"opt_name": name, "opt_value": value, "ip_version": ip_version}


@pytest.fixture
def net_id(network):
    return network.networks.create(DEMO, {"name": "n"})["id"]


def test_a_port_keeps_its_options_and_an_update_merges_into_them(network, net_id):
    port = network.ports.create(
        DEMO,
        {
            "network_id": net_id,
            "extra_dhcp_opts": [
                {"opt_name": "tftp-server", "opt_value": "10.0.0.9"},  # ip_version 4
                {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": "6"},
                {"opt_name": "domain-search", "opt_value": None},  # null: not stored
            ],
        },
    )
    stored = [opt("tftp-server", "10.0.0.9"), opt("bootfile-name", "pxelinux.0", 6)]
    assert port["extra_dhcp_opts"] == stored
    assert network.ports.get(DEMO, port["id"])["extra_dhcp_opts"] == stored

    changed = network.ports.update(
        DEMO,
        port["id"],
        {
            "extra_dhcp_opts": [
                {"opt_name": "tftp-server", "opt_value": "10.0.0.10"},  # replaces
                {"opt_name": "bootfile-name", "opt_value": "grub.efi"},  # v4: a new option
                {"opt_name": "bootfile-name", "opt_value": None, "ip_version": 6},  # removes
                {"opt_name": "no-such-option", "opt_value": None},  # removes nothing
            ]
        },
    )
    assert changed["extra_dhcp_opts"] == [
        opt("tftp-server", "10.0.0.10"),
        opt("bootfile-name", "grub.efi"),
    ]
    # null or [] for the attribute, or an update without it, change nothing
    for body in ({"extra_dhcp_opts": None}, {"extra_dhcp_opts": []}, {"name": "x"}):
        assert network.ports.update(DEMO, port["id"], body)["extra_dhcp_opts"] == [
            opt("tftp-server", "10.0.0.10"),
            opt("bootfile-name", "grub.efi"),
        ]
    assert network.ports.create(DEMO, {"network_id": net_id})["extra_dhcp_opts"] == []


@pytest.mark.parametrize(
    "bad",
    [
        {"opt_name": "", "opt_value": "x"},
        {"opt_name": "  ", "opt_value": "x"},
        {"opt_name": "n" * 65, "opt_value": "x"},
        {"opt_name": 66, "opt_value": "x"},
        {"opt_name": "tftp-server", "opt_value": ""},  # empty only for router & routes
        {"opt_name": "tftp-server", "opt_value": "v" * 256},
        {"opt_name": "tftp-server", "opt_value": 5},
        {"opt_name": "tftp-server", "opt_value": "a\ndhcp-option=3,6.6.6.6"},
        {"opt_name": "tftp\rserver", "opt_value": "x"},
        {"opt_name": "tftp-server", "opt_value": "x\x00"},
        {"opt_name": "tftp-server", "opt_value": "x", "ip_version": 5},
        {"opt_name": "tftp-server", "opt_value": "x", "ip_version": True},
        {"opt_name": "tftp-server"},  # opt_value is required (it may be null)
        {"opt_value": "x"},
        {"opt_name": "tftp-server", "opt_value": "x", "extra": 1},
        "tftp-server=x",
    ],
)
def test_options_breaking_neutrons_rules_are_400_on_create_and_update(network, net_id, bad):
    with pytest.raises(exc.InvalidInput):
        network.ports.create(DEMO, {"network_id": net_id, "extra_dhcp_opts": [bad]})
    port = network.ports.create(DEMO, {"network_id": net_id})
    with pytest.raises(exc.InvalidInput):
        network.ports.update(DEMO, port["id"], {"extra_dhcp_opts": [bad]})
    assert network.ports.get(DEMO, port["id"])["extra_dhcp_opts"] == []


def test_blank_values_are_allowed_for_router_and_classless_static_route():
    given = [opt("router", ""), opt("classless-static-route", "")]
    assert extra_dhcp_opts.for_create(given) == given


def test_an_option_given_twice_for_one_version_is_400_on_create():
    with pytest.raises(exc.InvalidInput):
        extra_dhcp_opts.for_create([opt("mtu", "1400"), opt("mtu", "1300")])
    assert extra_dhcp_opts.for_create([opt("mtu", "1400"), opt("mtu", "1300", 6)]) == [
        opt("mtu", "1400"),
        opt("mtu", "1300", 6),
    ]


def test_for_ip_version_picks_one_versions_options():
    opts = [opt("a", "1"), opt("b", "2", 6)]
    assert extra_dhcp_opts.for_ip_version(opts, 4) == [opt("a", "1")]
    assert extra_dhcp_opts.for_ip_version(opts, 6) == [opt("b", "2", 6)]

"""Configuration: every option declared once, with its section, type, default and help.

Sources, later ones winning: declared default < TOML file (``--config`` or
``<state_dir>/pocketstack.toml``) < ``POCKETSTACK_<NAME>`` environment variables < command-line
flags. Option names use underscores (``compute_driver``: flag ``--compute-driver``, variable
``POCKETSTACK_COMPUTE_DRIVER``) and code reads them flat: ``conf.compute_driver``.

The TOML file groups options in sections, as OpenStack's services do (nova.conf's
``[DEFAULT]``, ``[database]``...)::

    state_dir = "/srv/pocketstack"      # general options ([DEFAULT]) sit at the top level

    [api]
    port = 8774

    [database]
    connection = "postgresql://pocketstack@127.0.0.1/pocketstack"

A key in a section is the option's name, except ``[database] connection`` (option
``database``) and ``[transport] url`` (option ``transport``). ``SECTIONS`` lists the sections;
a ``[DEFAULT]`` table is accepted as well as top-level keys. The older flat file (every option
at the top level: ``port = 8774``) still loads, with a deprecation notice per key
(``Config.notices``); an unknown section or key, or a key in the wrong section, is an error
naming the file, the section and the key.

The CLI builds its flags from ``OPTIONS``, one argument group per section (see
``pocketstack.cli``), so a new option is declared here and nowhere else.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pocketstack.common.drivers import COMPUTE_DRIVERS, IMAGE_STORES, NETWORK_DRIVERS

#: The general section: top-level keys of the TOML file (or a ``[DEFAULT]`` table).
DEFAULT = "DEFAULT"

#: Sections of the TOML file (and groups of ``--help``) in order, with one line each.
SECTIONS: dict[str, str] = {
    DEFAULT: "the top level of the TOML file (or a [DEFAULT] table)",
    "api": "the one HTTP endpoint all APIs share",
    "logging": "log files in <state-dir>/logs",
    "database": "where the state is kept",
    "transport": "the message bus between controllers and agents",
    "identity": "Keystone: tokens, login lockout, the service catalog",
    "oauth1": "Keystone OS-OAUTH1: lifetimes of delegated request and access tokens",
    "compute": "Nova: hypervisor driver, scheduler, this host's resources",
    "network": "Neutron: the network data plane",
    "image": "Glance: image data limits and uploads",
    "volume": "Cinder: volume backends, the scheduler's over-subscription, quotas",
    "lab": "pocketstack up --hosts N: N hosts in network namespaces on this machine",
    "objectstore": "Swift: the ring and the storage nodes (account, container, object servers)",
    "service_user": "the compute service's own Keystone user, whose token compute hosts fetch "
    "images with (Nova's [service_user]); bootstrap creates it with this password",
}


@dataclass(frozen=True)
class Option:
    """One configuration option.

    Attributes:
        name: python name (``state_dir``); flag ``--state-dir``; env ``POCKETSTACK_STATE_DIR``.
        type: ``str``, ``int``, ``float`` or ``bool``.
        default: value when no source sets it.
        help: one line for ``--help``.
        cli: whether ``pocketstack`` exposes it as a flag.
        section: its section of the TOML file and group of ``--help`` (one of ``SECTIONS``).
        key: its key inside the section when not ``name`` (``[database] connection``).
        secret: ``pocketstack config show`` masks it (a password in a URL).
    """

    name: str
    type: type
    default: Any
    help: str
    cli: bool = True
    section: str = DEFAULT
    key: str = ""
    secret: bool = False

    def __post_init__(self) -> None:
        if self.section not in SECTIONS:
            raise ValueError(f"option {self.name}: unknown section {self.section!r}")
        if not self.key:
            object.__setattr__(self, "key", self.name)

    @property
    def flag(self) -> str:
        """The command-line flag: ``--state-dir``."""
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        """The environment variable: ``POCKETSTACK_STATE_DIR``."""
        return "POCKETSTACK_" + self.name.upper()

    @property
    def where(self) -> str:
        """Where it goes in the TOML file: ``[compute] compute_driver``, or ``state_dir``."""
        return self.key if self.section == DEFAULT else f"[{self.section}] {self.key}"

    def parse(self, raw: Any) -> Any:
        """Convert a raw value (string from env/flags, or TOML value) to ``self.type``.

        Raises:
            ValueError: the value does not convert.
        """
        if raw is None or isinstance(raw, self.type):
            return raw
        if self.type is bool:
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{self.name}: not a boolean: {raw!r}")
        return self.type(raw)


def _default_state_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "pocketstack")


OPTIONS: tuple[Option, ...] = (
    Option(
        "state_dir",
        str,
        _default_state_dir(),
        "directory for the database, images, instances, volumes, keys and logs",
        section="DEFAULT",
    ),
    Option(
        "config",
        str,
        "",
        "TOML file of options (default <state-dir>/pocketstack.toml)",
        section="DEFAULT",
    ),
    Option("host", str, "127.0.0.1", "address the API listens on", section="api"),
    Option(
        "port",
        int,
        8780,
        "one HTTP port for all APIs (services under path prefixes)",
        section="api",
    ),
    Option(
        "public_url",
        str,
        "",
        "base URL written into the service catalog (default http://<host>:<port>)",
        section="api",
    ),
    Option(
        "database",
        str,
        "",
        "SQLAlchemy URL (default sqlite in the state directory), "
        "e.g. postgresql://user@127.0.0.1/pocketstack",
        section="database",
        key="connection",
        secret=True,
    ),
    Option(
        "transport",
        str,
        "memory://",
        "message bus: memory:// (in-process), amqp://user:pass@host:5672// or "
        "filesystem:///<dir> (processes of one machine; up --hosts N uses <state-dir>/bus)",
        section="transport",
        key="url",
        secret=True,
    ),
    Option(
        "hostname",
        str,
        "",
        "this compute host's name (default: the machine's hostname)",
        section="DEFAULT",
    ),
    Option(
        "netns",
        str,
        "",
        "network namespace this host's agents act in and its guests run in (the lab sets "
        "it per host; empty: the current namespace, as on a real machine)",
        section="DEFAULT",
    ),
    Option(
        "compute_driver",
        str,
        "qemu",
        "hypervisor driver: " + " or ".join(COMPUTE_DRIVERS.names),
        section="compute",
    ),
    Option(
        "network_driver",
        str,
        "noop",
        "network data-plane driver: " + " or ".join(NETWORK_DRIVERS.names),
        section="network",
    ),
    Option(
        "local_ip",
        str,
        "",
        "this host's VXLAN tunnel endpoint address (Neutron's [vxlan] local_ip); empty: the "
        "kernel picks the source address",
        section="network",
    ),
    Option(
        "tunnel_interface",
        str,
        "",
        "underlay interface VXLAN devices are bound to (dev of vxlan-<vni>); empty: by route",
        section="network",
    ),
    Option(
        "physical_interface_mappings",
        str,
        "public:eth-ext",
        "physical_network:interface pairs, comma-separated, for flat networks (Neutron's "
        "[linux_bridge] physical_interface_mappings)",
        section="network",
    ),
    Option(
        "dhcp_lease_duration",
        int,
        86400,
        "DHCP lease time in seconds that the DHCP agent's dnsmasq hands out (Neutron's option)",
        section="network",
    ),
    Option(
        "agent_down_time",
        int,
        15,
        "seconds after its last heartbeat that a network agent is shown dead (alive false; "
        "Neutron's option)",
        section="network",
    ),
    Option(
        "agent_report_interval",
        int,
        5,
        "seconds between a network agent's report_state heartbeats (Neutron's "
        "[agent] report_interval)",
        section="network",
    ),
    Option(
        "agent_sync_interval",
        int,
        10,
        "seconds between a network agent's full reconciliations of its host's wanted state",
        section="network",
    ),
    Option(
        "network_node",
        bool,
        False,
        "pocketstack network-agent also runs the DHCP and L3 roles on this host (the network "
        "node; pocketstack up always does)",
        section="network",
    ),
    Option(
        "vni_ranges",
        str,
        "1:16000000",
        "VXLAN VNIs given to tenant networks, comma-separated min:max ranges (Neutron's "
        "[ml2_type_vxlan] vni_ranges)",
        section="network",
    ),
    Option(
        "availability_zone",
        str,
        "nova",
        "availability zone of this compute host",
        section="compute",
    ),
    Option("region", str, "RegionOne", "region name in the service catalog", section="identity"),
    Option("token_expiration", int, 3600, "token lifetime in seconds", section="identity"),
    Option(
        "request_token_duration",
        int,
        28800,
        "seconds an OAuth1 request token stays valid (Keystone's [oauth1]; 0: never expires)",
        section="oauth1",
    ),
    Option(
        "access_token_duration",
        int,
        86400,
        "seconds an OAuth1 access token stays valid (Keystone's [oauth1]; 0: never expires)",
        section="oauth1",
    ),
    Option(
        "lockout_failure_attempts",
        int,
        5,
        "failed logins in a row that lock a user out for lockout_duration seconds "
        "(0: never lock; Keystone leaves it off by default)",
        section="identity",
    ),
    Option(
        "lockout_duration",
        int,
        1800,
        "seconds a locked-out user stays locked, even with the right password; an admin "
        "unlocks it sooner by setting its password or enabled flag",
        section="identity",
    ),
    Option(
        "password_hash_rounds",
        int,
        10,
        "bcrypt cost (2**N rounds, 4-31) of new password and application credential secret "
        "hashes, as Keystone's [identity] password_hash_rounds; existing hashes keep theirs",
        section="identity",
    ),
    Option(
        "cpu_allocation_ratio",
        float,
        4.0,
        "virtual CPUs per physical CPU the scheduler allows (overcommit)",
        section="compute",
    ),
    Option(
        "ram_allocation_ratio",
        float,
        1.5,
        "virtual RAM per physical RAM the scheduler allows",
        section="compute",
    ),
    Option(
        "disk_allocation_ratio", float, 1.0, "virtual disk per physical disk", section="compute"
    ),
    Option(
        "reserved_host_memory_mb", int, 512, "RAM kept back for the host itself", section="compute"
    ),
    Option(
        "weigher_multiplier",
        float,
        1.0,
        "RAM/CPU weigher multiplier: positive spreads servers across hosts, negative packs them",
        section="compute",
    ),
    Option(
        "compute_vcpus",
        int,
        0,
        "vCPUs this host reports (0: the machine's count; the fake driver defaults to 64)",
        section="compute",
    ),
    Option(
        "compute_memory_mb",
        int,
        0,
        "RAM (MiB) this host reports (0: the machine's)",
        section="compute",
    ),
    Option(
        "compute_disk_gb",
        int,
        0,
        "disk (GiB) this host reports (0: free space of the state directory)",
        section="compute",
    ),
    Option(
        "fake_hosts",
        int,
        0,
        "with the fake compute driver: run this many fake compute hosts in this process "
        "(<hostname>-fake<i>), each with its own service, heartbeat and resource provider "
        "(0: just this host)",
        section="compute",
    ),
    Option(
        "allow_resize_to_same_host",
        bool,
        False,
        "whether a resize may choose the server's own host (Nova's [DEFAULT] "
        "allow_resize_to_same_host; cold migration always moves to another host)",
        section="compute",
    ),
    Option(
        "shelved_offload_time",
        int,
        0,
        "seconds a shelved server keeps its host before it is offloaded (Nova's "
        "[DEFAULT] shelved_offload_time: 0 at once, -1 never)",
        section="compute",
    ),
    Option(
        "resize_confirm_window",
        int,
        0,
        "seconds after which a resized or migrated server still in VERIFY_RESIZE is "
        "confirmed automatically (Nova's [DEFAULT] resize_confirm_window; 0: never)",
        section="compute",
    ),
    Option(
        "instances_path",
        str,
        "",
        "directory of this host's guests' files (empty: <state_dir>/instances); reported "
        "with the host (compute.instance_storage)",
        section="compute",
    ),
    Option(
        "instances_shared_storage",
        bool,
        False,
        "instances_path is storage other compute hosts mount too (shared): evacuation keeps "
        "a guest's disk and live migration moves memory only between such hosts",
        section="compute",
    ),
    Option(
        "periodic_interval",
        float,
        10.0,
        "seconds between agent periodic tasks (reconciliation, outcomes sent again); the "
        "compute agent's heartbeat, resource report and power-state sync have their own "
        "intervals below",
        section="DEFAULT",
    ),
    Option(
        "report_interval",
        float,
        10.0,
        "seconds between a compute service's heartbeats (Nova's [DEFAULT] report_interval); "
        "0: every periodic_interval",
        section="compute",
    ),
    Option(
        "update_resources_interval",
        float,
        60.0,
        "seconds between a compute host's resource reports (compute node and Placement "
        "inventory, written only when it changed; Nova's update_resources_interval); "
        "0: every periodic_interval",
        section="compute",
    ),
    Option(
        "sync_power_state_interval",
        float,
        600.0,
        "seconds between a compute host's power-state syncs and orphan sweeps (Nova's "
        "sync_power_state_interval); 0: every periodic_interval",
        section="compute",
    ),
    Option(
        "service_down_time",
        float,
        60.0,
        "seconds without heartbeat after which a compute service is reported down",
        section="compute",
    ),
    Option(
        "shutdown_instances",
        bool,
        False,
        "on stop, shut running VMs down instead of "
        "leaving them running to be re-adopted by the next start",
        section="compute",
    ),
    Option(
        "max_request_body_size",
        int,
        114688,
        "largest JSON request body in bytes (413 above); image uploads are not limited by it",
        section="api",
    ),
    Option(
        "image_size_cap",
        int,
        1099511627776,
        "largest image data in bytes an upload or stage may carry (413 above), "
        "as Glance's image_size_cap (1 TiB)",
        section="image",
    ),
    Option(
        "image_user_storage_quota",
        int,
        0,
        "bytes of image data each project may own (413 above; 0: unlimited), "
        "as Glance's user_storage_quota",
        section="image",
    ),
    Option(
        "image_upload_lease",
        float,
        60.0,
        "seconds an image upload, stage or import stays its controller's without renewal; "
        "after a crash, any controller then puts the image back to queued",
        section="image",
    ),
    Option(
        "image_store",
        str,
        "file",
        "image data store: " + " or ".join(IMAGE_STORES.names),
        section="image",
    ),
    Option(
        "image_import_allowed_hosts",
        str,
        "127.0.0.1,localhost",
        "comma-separated hosts the web-download import method may fetch from (other hosts "
        "answer 400), as Glance's [import_filtering_opts] allowed_hosts",
        section="image",
    ),
    Option(
        "image_swift_account",
        str,
        ".glance",
        "swift image store: the object storage account of the images (a hidden account by "
        "default; AUTH_<project id> makes them visible to that project, as Glance's "
        "single-tenant store in the service project)",
        section="image",
    ),
    Option(
        "image_swift_container",
        str,
        "glance",
        "swift image store: the container of the images (Glance's swift_store_container)",
        section="image",
    ),
    Option(
        "image_swift_chunk_size",
        int,
        200 * 1024 * 1024,
        "swift image store: bytes per segment of a larger image, stored as segments and a "
        "manifest (Glance's swift_store_large_object_chunk_size)",
        section="image",
    ),
    Option(
        "hosts",
        int,
        0,
        "lab hosts pocketstack up builds in network namespaces, each with its own compute "
        "and network agents and the linuxbridge driver (0: this machine is the one host)",
        section="lab",
    ),
    Option(
        "shared_instance_storage",
        bool,
        False,
        "every lab host's compute agent keeps its guests in one directory, "
        "<state_dir>/shared-instances, and reports it as shared instance storage (evacuation "
        "keeps the disks, live migration moves memory only); default: each host its own",
        section="lab",
    ),
    Option(
        "lab_prefix",
        str,
        "pocketstack",
        "start of the lab's namespace names (<prefix>-host1...); tests use their own",
        section="lab",
        key="prefix",
    ),
    Option(
        "external_on_host",
        bool,
        False,
        "put the lab's outside world (br-ext, 172.24.4.1/24) in the root namespace so this "
        "machine reaches floating IPs, instead of in <prefix>-ext",
        section="lab",
    ),
    Option(
        "volume_driver",
        str,
        "file",
        "volume backend driver of the storage hosts: file (files exported over iSCSI/NBD) or fake",
        section="volume",
    ),
    Option(
        "volume_format",
        str,
        "raw",
        "format of the file driver's volumes: raw (exported over iSCSI) or qcow2 (over NBD)",
        section="volume",
    ),
    Option(
        "iscsi_port",
        int,
        3260,
        "TCP port of the storage hosts' iSCSI portal",
        section="volume",
    ),
    Option(
        "iscsi_ip",
        str,
        "127.0.0.1",
        "address of this storage host's iSCSI portal (and NBD exports); a lab's storage host "
        "uses its underlay address",
        section="volume",
    ),
    Option(
        "tgt_control_port",
        int,
        0,
        "number of this storage host's tgtd management socket (tgtd -C; 0: derived from the "
        "volume pool's path, so tgtd of other state directories never share one)",
        section="volume",
    ),
    Option(
        "volume_pool_dir",
        str,
        "",
        "directory of this storage host's volume files (default <state-dir>/volumes)",
        section="volume",
    ),
    Option(
        "volume_sync_interval",
        float,
        60.0,
        "seconds between a volume agent's pulls of its host's state (get_host_state); "
        "its report_state heartbeat follows periodic_interval",
        section="volume",
    ),
    Option(
        "storage_availability_zone",
        str,
        "nova",
        "availability zone of this storage host's volumes (Cinder's storage_availability_zone)",
        section="volume",
    ),
    Option(
        "max_over_subscription_ratio",
        float,
        20.0,
        "thin provisioning: provisioned GiB a backend may take per GiB of capacity",
        section="volume",
    ),
    Option(
        "volume_service_down_time",
        float,
        60.0,
        "seconds without report_state after which a cinder-volume service is down",
        section="volume",
    ),
    Option(
        "default_volume_type",
        str,
        "__DEFAULT__",
        "volume type of a volume created without one",
        section="volume",
    ),
    Option(
        "quota_volumes", int, 10, "default volumes per project (-1: unlimited)", section="volume"
    ),
    Option(
        "quota_snapshots",
        int,
        10,
        "default snapshots per project (-1: unlimited)",
        section="volume",
    ),
    Option(
        "quota_gigabytes",
        int,
        1000,
        "default GiB of volumes and snapshots per project (-1: unlimited)",
        section="volume",
    ),
    Option(
        "quota_backups", int, 10, "default backups per project (-1: unlimited)", section="volume"
    ),
    Option(
        "quota_backup_gigabytes",
        int,
        1000,
        "default GiB of backups per project (-1: unlimited)",
        section="volume",
    ),
    Option(
        "quota_per_volume_gigabytes",
        int,
        -1,
        "default largest volume in GiB (-1: unlimited)",
        section="volume",
    ),
    Option(
        "backup_store",
        str,
        "file",
        "where volume backups go: file (<state-dir>/backups) or swift (object storage)",
        section="volume",
    ),
    Option(
        "backup_swift_account",
        str,
        ".cinder",
        "backup_store = swift: the object storage account of the backup containers (a "
        "hidden account by default; Cinder's backup_swift_auth = single_user)",
        section="volume",
    ),
    Option(
        "backup_container",
        str,
        "volumebackups",
        "container of a backup created without one",
        section="volume",
    ),
    Option(
        "backup_chunk_size",
        int,
        32 * 1024 * 1024,
        "bytes of volume per backup object (rounded down to backup_sha_block_size)",
        section="volume",
    ),
    Option(
        "backup_sha_block_size",
        int,
        32 * 1024,
        "bytes per sha256 an incremental backup compares with its parent's",
        section="volume",
    ),
    Option(
        "backup_compression_level",
        int,
        1,
        "zlib level of backup objects (0 stores them uncompressed, 9 is smallest)",
        section="volume",
    ),
    Option(
        "object_ring",
        str,
        "",
        "the object ring the proxy and the storage nodes read: a path or an http(s) URL "
        "(default <state-dir>/objects/object.ring.gz, which up builds)",
        section="objectstore",
    ),
    Option(
        "object_devices",
        str,
        "",
        "pocketstack object-node: the directory of this node's device directories (Swift's "
        "devices; default <state-dir>/objects/node)",
        section="objectstore",
    ),
    Option(
        "object_bind_ip",
        str,
        "127.0.0.1",
        "pocketstack object-node: address the storage node listens on",
        section="objectstore",
    ),
    Option(
        "object_bind_port",
        int,
        6200,
        "pocketstack object-node: port the storage node listens on",
        section="objectstore",
    ),
    Option(
        "object_nodes",
        int,
        3,
        "pocketstack up: storage nodes started on 127.0.0.1, one device each, one zone each",
        section="objectstore",
    ),
    Option(
        "object_replicas",
        int,
        3,
        "pocketstack up: replicas of the ring it builds at first start",
        section="objectstore",
    ),
    Option(
        "object_part_power",
        int,
        10,
        "pocketstack up: 2**N partitions in the ring it builds at first start",
        section="objectstore",
    ),
    Option(
        "object_node_port",
        int,
        0,
        "pocketstack up: first port of its storage nodes (node i on port+i); 0: free ports "
        "picked at first start and kept in the ring",
        section="objectstore",
    ),
    Option(
        "object_update_timeout",
        float,
        1.0,
        "seconds a storage node waits for a container or account update before leaving it "
        "to its updater (Swift's container_update_timeout)",
        section="objectstore",
    ),
    Option(
        "object_updater_interval",
        float,
        0.5,
        "seconds between a storage node's passes sending container counts to accounts and "
        "retrying async_pending updates",
        section="objectstore",
    ),
    Option(
        "object_replicator_interval",
        float,
        30.0,
        "seconds between a storage node's replication passes (pushing its partitions and "
        "databases to the ring's other replicas, handoffs home); 0: no replicator",
        section="objectstore",
    ),
    Option(
        "object_auditor_interval",
        float,
        1800.0,
        "seconds between a storage node's audit passes (every object's MD5 checked against "
        "its ETag, corrupt ones quarantined for the replicator to restore); 0: no auditor",
        section="objectstore",
    ),
    Option(
        "object_auditor_bytes_per_second",
        float,
        10_000_000.0,
        "bytes per second an audit pass reads at most (Swift's bytes_per_second); 0: no limit",
        section="objectstore",
    ),
    Option(
        "object_expirer_interval",
        float,
        60.0,
        "seconds between a storage node's expirer passes (objects past X-Delete-At deleted "
        "and removed from listings); 0: no expirer",
        section="objectstore",
    ),
    Option("log_level", str, "INFO", "log level: DEBUG, INFO, WARNING", section="logging"),
    Option(
        "log_max_bytes",
        int,
        10 * 1024 * 1024,
        "size in bytes at which a log file in <state-dir>/logs is rotated (0: never)",
        section="logging",
    ),
    Option(
        "log_backup_count",
        int,
        5,
        "rotated log files kept per process (<name>.log.1...)",
        section="logging",
    ),
    Option(
        "accel",
        str,
        "auto",
        "QEMU accelerator: auto (KVM when it works), kvm or tcg",
        section="compute",
    ),
    Option(
        "service_user_name",
        str,
        "nova",
        "name of the compute service user (domain default)",
        section="service_user",
        key="username",
    ),
    Option(
        "service_user_password",
        str,
        "",
        "its password, the same on the controllers and every compute host (empty: the "
        "controller generates one into <state-dir>/bootstrap.json and compute hosts "
        "cannot download images)",
        section="service_user",
        key="password",
        secret=True,
    ),
    Option(
        "service_user_project",
        str,
        "service",
        "project of its token (domain default); it has the admin role there",
        section="service_user",
        key="project_name",
    ),
    Option(
        "service_auth_url",
        str,
        "",
        "Identity URL compute hosts get its token from (default <public-url>/identity)",
        section="service_user",
        key="auth_url",
    ),
    Option(
        "write_user_clouds",
        bool,
        True,
        "also add the pocketstack clouds to "
        "~/.config/openstack/clouds.yaml so `openstack --os-cloud` finds them",
        section="DEFAULT",
    ),
)

_BY_NAME = {o.name: o for o in OPTIONS}
_BY_KEY = {(o.section, o.key): o for o in OPTIONS}


class Config:
    """Resolved options, read as attributes: ``conf.state_dir``, ``conf.port``.

    Build with ``Config.load(flags)`` where ``flags`` holds only the options given on the
    command line (unset flags are absent or ``None``). ``conf.section("compute")`` gives one
    section's options; ``conf.to_toml()`` all of them as a TOML file, secrets masked.

    Attributes:
        sources: where each option's value came from (``default``, the file's path,
            ``POCKETSTACK_<NAME>``, ``--<flag>``).
        notices: deprecations met while loading (old flat keys in the TOML file).

    Raises:
        ValueError: an unknown option in the TOML file or a value that does not convert.
    """

    def __init__(
        self,
        values: Mapping[str, Any],
        sources: Mapping[str, str] | None = None,
        notices: tuple[str, ...] = (),
    ):
        self._values = dict(values)
        self.sources = dict(sources or {})
        self.notices = notices

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        """Every option's value by name."""
        return dict(self._values)

    def section(self, name: str) -> dict[str, Any]:
        """The options of section ``name`` by option name: ``{"compute_driver": "qemu", ...}``.

        Raises:
            KeyError: not a section of ``SECTIONS``.
        """
        if name not in SECTIONS:
            raise KeyError(name)
        return {o.name: self._values[o.name] for o in OPTIONS if o.section == name}

    def replace(self, **changes: Any) -> Config:
        """A copy with some options changed (tests and multi-host setups use this)."""
        unknown = set(changes) - set(_BY_NAME)
        if unknown:
            raise ValueError(f"unknown options: {sorted(unknown)}")
        sources = {**self.sources, **dict.fromkeys(changes, "replace()")}
        return Config({**self._values, **changes}, sources, self.notices)

    @classmethod
    def load(
        cls, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Config:
        """Resolve every option: default < TOML file < environment < ``flags``.

        Raises:
            ValueError: the file is not valid TOML, has an unknown section or key, a key in
                the wrong section, or a value (anywhere) does not convert.
        """
        flags = {k: v for k, v in (flags or {}).items() if v is not None}
        environ = os.environ if environ is None else environ
        values = {o.name: o.default for o in OPTIONS}
        sources = dict.fromkeys(values, "default")
        for o in OPTIONS:
            if o.env in environ:
                values[o.name] = o.parse(environ[o.env])
                sources[o.name] = o.env
        for name, raw in flags.items():
            values[name] = _BY_NAME[name].parse(raw)
            sources[name] = _BY_NAME[name].flag
        values["state_dir"] = os.path.abspath(os.path.expanduser(values["state_dir"]))
        toml_path = values["config"] or os.path.join(values["state_dir"], "pocketstack.toml")
        file_values, notices = read_toml(toml_path)
        # File values sit between defaults and env/flags: apply only where env/flags are silent.
        for name, raw in file_values.items():
            opt = _BY_NAME[name]
            if opt.env not in environ and name not in flags:
                try:
                    values[name] = opt.parse(raw)
                except ValueError as exc:
                    raise ValueError(f"{toml_path}: {opt.where}: {exc}") from None
                sources[name] = toml_path
        if not values["database"]:
            values["database"] = "sqlite:///" + os.path.join(values["state_dir"], "pocketstack.db")
        if not values["hostname"]:
            values["hostname"] = os.uname().nodename
        if not values["public_url"]:
            values["public_url"] = f"http://{values['host']}:{values['port']}"
        return cls(values, sources, tuple(notices))

    def path(self, *parts: str) -> Path:
        """A path inside the state directory, e.g. ``conf.path("instances", uuid)``."""
        return Path(self.state_dir, *parts)

    def to_toml(self, with_sources: bool = True) -> str:
        """The effective configuration as a TOML file, section by section, secrets masked.

        With ``with_sources`` each value not at its default ends in a comment naming where
        it came from. The file's own path (option ``config``) is a comment on top.
        """
        file = self._values["config"] or str(self.path("pocketstack.toml"))
        state = "read" if os.path.exists(file) else "absent"
        lines = [f"# configuration file: {file} ({state})"]
        for section in SECTIONS:
            opts = [o for o in OPTIONS if o.section == section and o.name != "config"]
            if not opts:
                continue
            lines.append(
                f"# [{DEFAULT}]: {SECTIONS[section]}" if section == DEFAULT else f"\n[{section}]"
            )
            for o in opts:
                value = self._values[o.name]
                line = f"{o.key} = {_toml_value(_mask(value) if o.secret else value)}"
                source = self.sources.get(o.name, "default")
                if with_sources and source != "default":
                    line += f"  # {source}"
                lines.append(line)
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    """``value`` as a TOML literal (str, bool, int or float)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _mask(value: Any) -> Any:
    """A URL with its password replaced by ``***`` (any other secret: ``***``)."""
    if not value:
        return value
    try:
        parts = urlsplit(str(value))
        password = parts.password
    except ValueError:
        return "***"
    if not parts.scheme:
        return "***"
    if password is None:
        return value
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def read_toml(path: str) -> tuple[dict[str, Any], list[str]]:
    """The options a TOML file sets, by option name (raw values), and deprecation notices.

    A missing file sets nothing. Top-level keys are ``[DEFAULT]`` options, or (deprecated)
    any other option by its name, as the older flat file had them.

    Raises:
        ValueError: not valid TOML, an unknown section or key, a key in the wrong section,
            or one option set twice; the message names the file, section and key.
    """
    if not os.path.exists(path):
        return {}, []
    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    notices: list[str] = []

    def put(opt: Option, raw: Any) -> None:
        if opt.name in values:
            raise ValueError(f"{path}: {opt.where} is set twice (at the top level and in it)")
        values[opt.name] = raw

    top: dict[str, Any] = {}
    for key, raw in data.items():
        if key in SECTIONS and isinstance(raw, dict):
            if key == DEFAULT:
                top.update(raw)
                continue
            for sub_key, sub_raw in raw.items():
                put(_find(path, key, sub_key), sub_raw)
        elif isinstance(raw, dict):
            known = ", ".join(f"[{s}]" for s in SECTIONS)
            raise ValueError(f"{path}: unknown section [{key}] (sections: {known})")
        else:
            top[key] = raw
    for key, raw in top.items():
        opt = _find(path, DEFAULT, key)
        if opt.section != DEFAULT:
            notices.append(
                f"{path}: {key!r} at the top level is deprecated; write it as {opt.where}"
            )
        put(opt, raw)
    return values, notices


def _find(path: str, section: str, key: str) -> Option:
    """The option ``key`` of ``section`` in file ``path`` (top-level: also old flat names).

    Raises:
        ValueError: unknown key, or a key that belongs to another section.
    """
    opt = _BY_KEY.get((section, key))
    if opt is None and section == DEFAULT:
        opt = _BY_NAME.get(key)  # the older flat file: every option by name at the top level
    if opt is not None:
        return opt
    label = "the top level ([DEFAULT])" if section == DEFAULT else f"[{section}]"
    elsewhere = [o for o in OPTIONS if key in (o.key, o.name)]
    if elsewhere:
        raise ValueError(
            f"{path}: {key!r} is not an option of {label}; "
            f"it belongs in {' or '.join(o.where for o in elsewhere)}"
        )
    raise ValueError(f"{path}: unknown option {key!r} in {label}")

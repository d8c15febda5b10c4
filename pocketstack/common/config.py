"""Configuration: every option declared once, with type, default and help.

Sources, later ones winning: declared default < TOML file (``--config`` or
``<state_dir>/pocketstack.toml``) < ``POCKETSTACK_<NAME>`` environment variables < command-line
flags. Option names use underscores; the TOML file is flat (``port = 8774``) and the
environment variable of ``state_dir`` is ``POCKETSTACK_STATE_DIR``.

The CLI builds its flags from ``OPTIONS`` (see ``pocketstack.cli``), so a new option is
declared here and nowhere else.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Option:
    """One configuration option.

    Attributes:
        name: python name (``state_dir``); flag ``--state-dir``; env ``POCKETSTACK_STATE_DIR``.
        type: ``str``, ``int``, ``float`` or ``bool``.
        default: value when no source sets it.
        help: one line for ``--help``.
        cli: whether ``pocketstack`` exposes it as a flag.
    """

    name: str
    type: type
    default: Any
    help: str
    cli: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "POCKETSTACK_" + self.name.upper()

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
    ),
    Option("config", str, "", "TOML file of options (default <state-dir>/pocketstack.toml)"),
    Option("host", str, "127.0.0.1", "address the API listens on"),
    Option("port", int, 8780, "one HTTP port for all APIs (services under path prefixes)"),
    Option(
        "public_url",
        str,
        "",
        "base URL written into the service catalog (default http://<host>:<port>)",
    ),
    Option(
        "database",
        str,
        "",
        "SQLAlchemy URL (default sqlite in the state directory), "
        "e.g. postgresql://user@127.0.0.1/pocketstack",
    ),
    Option(
        "transport",
        str,
        "memory://",
        "message bus: memory:// (in-process) or amqp://user:pass@host:5672//",
    ),
    Option("hostname", str, "", "this compute host's name (default: the machine's hostname)"),
    Option("compute_driver", str, "qemu", "hypervisor driver: fake or qemu"),
    Option("network_driver", str, "noop", "network data-plane driver: noop"),
    Option("availability_zone", str, "nova", "availability zone of this compute host"),
    Option("region", str, "RegionOne", "region name in the service catalog"),
    Option("token_expiration", int, 3600, "token lifetime in seconds"),
    Option(
        "lockout_failure_attempts",
        int,
        5,
        "failed logins in a row that lock a user out for lockout_duration seconds "
        "(0: never lock; Keystone leaves it off by default)",
    ),
    Option(
        "lockout_duration",
        int,
        1800,
        "seconds a locked-out user stays locked, even with the right password; an admin "
        "unlocks it sooner by setting its password or enabled flag",
    ),
    Option(
        "cpu_allocation_ratio",
        float,
        4.0,
        "virtual CPUs per physical CPU the scheduler allows (overcommit)",
    ),
    Option("ram_allocation_ratio", float, 1.5, "virtual RAM per physical RAM the scheduler allows"),
    Option("disk_allocation_ratio", float, 1.0, "virtual disk per physical disk"),
    Option("reserved_host_memory_mb", int, 512, "RAM kept back for the host itself"),
    Option(
        "weigher_multiplier",
        float,
        1.0,
        "RAM/CPU weigher multiplier: positive spreads servers across hosts, negative packs them",
    ),
    Option(
        "compute_vcpus",
        int,
        0,
        "vCPUs this host reports (0: the machine's count; the fake driver defaults to 64)",
    ),
    Option("compute_memory_mb", int, 0, "RAM (MiB) this host reports (0: the machine's)"),
    Option(
        "compute_disk_gb",
        int,
        0,
        "disk (GiB) this host reports (0: free space of the state directory)",
    ),
    Option(
        "periodic_interval",
        float,
        10.0,
        "seconds between agent periodic tasks (heartbeat, power-state sync, reconciliation)",
    ),
    Option(
        "service_down_time",
        float,
        60.0,
        "seconds without heartbeat after which a compute service is reported down",
    ),
    Option(
        "shutdown_instances",
        bool,
        False,
        "on stop, shut running VMs down instead of "
        "leaving them running to be re-adopted by the next start",
    ),
    Option(
        "max_request_body_size",
        int,
        114688,
        "largest JSON request body in bytes (413 above); image uploads are not limited by it",
    ),
    Option(
        "image_size_cap",
        int,
        1099511627776,
        "largest image data in bytes an upload or stage may carry (413 above), "
        "as Glance's image_size_cap (1 TiB)",
    ),
    Option(
        "image_user_storage_quota",
        int,
        0,
        "bytes of image data each project may own (413 above; 0: unlimited), "
        "as Glance's user_storage_quota",
    ),
    Option(
        "image_upload_lease",
        float,
        60.0,
        "seconds an image upload, stage or import stays its controller's without renewal; "
        "after a crash, any controller then puts the image back to queued",
    ),
    Option("log_level", str, "INFO", "log level: DEBUG, INFO, WARNING"),
    Option(
        "log_max_bytes",
        int,
        10 * 1024 * 1024,
        "size in bytes at which a log file in <state-dir>/logs is rotated (0: never)",
    ),
    Option("log_backup_count", int, 5, "rotated log files kept per process (<name>.log.1...)"),
    Option("accel", str, "auto", "QEMU accelerator: auto (KVM when it works), kvm or tcg"),
    Option(
        "write_user_clouds",
        bool,
        True,
        "also add the pocketstack clouds to "
        "~/.config/openstack/clouds.yaml so `openstack --os-cloud` finds them",
    ),
)

_BY_NAME = {o.name: o for o in OPTIONS}


class Config:
    """Resolved options, read as attributes: ``conf.state_dir``, ``conf.port``.

    Build with ``Config.load(flags)`` where ``flags`` holds only the options given on the
    command line (unset flags are absent or ``None``).

    Raises:
        ValueError: an unknown option in the TOML file or a value that does not convert.
    """

    def __init__(self, values: Mapping[str, Any]):
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def replace(self, **changes: Any) -> Config:
        """A copy with some options changed (tests and multi-host setups use this)."""
        unknown = set(changes) - set(_BY_NAME)
        if unknown:
            raise ValueError(f"unknown options: {sorted(unknown)}")
        return Config({**self._values, **changes})

    @classmethod
    def load(
        cls, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Config:
        flags = {k: v for k, v in (flags or {}).items() if v is not None}
        environ = os.environ if environ is None else environ
        values = {o.name: o.default for o in OPTIONS}
        for o in OPTIONS:
            if o.env in environ:
                values[o.name] = o.parse(environ[o.env])
        for name, raw in flags.items():
            values[name] = _BY_NAME[name].parse(raw)
        values["state_dir"] = os.path.abspath(os.path.expanduser(values["state_dir"]))
        toml_path = values["config"] or os.path.join(values["state_dir"], "pocketstack.toml")
        file_values = _read_toml(toml_path)
        # File values sit between defaults and env/flags: apply only where env/flags are silent.
        for name, raw in file_values.items():
            opt = _BY_NAME.get(name)
            if opt is None:
                raise ValueError(f"{toml_path}: unknown option {name!r}")
            if opt.env not in environ and name not in flags:
                values[name] = opt.parse(raw)
        if not values["database"]:
            values["database"] = "sqlite:///" + os.path.join(values["state_dir"], "pocketstack.db")
        if not values["hostname"]:
            values["hostname"] = os.uname().nodename
        if not values["public_url"]:
            values["public_url"] = f"http://{values['host']}:{values['port']}"
        return cls(values)

    def path(self, *parts: str) -> Path:
        """A path inside the state directory, e.g. ``conf.path("instances", uuid)``."""
        return Path(self.state_dir, *parts)


def _read_toml(path: str) -> dict[str, Any]:
    if not os.path.exists(path):
        return {}
    with open(path, "rb") as f:
        return tomllib.load(f)

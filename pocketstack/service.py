"""Assembling the cloud: the managers of a controller, the API app, the agents of a host.

- ``Cloud``: every service manager of one controller process, sharing config, database and
  bus. Managers reach each other through these attributes (``cloud.network.allocate_ports``),
  never through each other's tables.
- ``build_app(cloud)``: the one ASGI app with each service under its path prefix.
- ``Controller``: API + managers + conductor (+ scheduler inside it) + the network server's
  agent endpoint (topic ``network``) + controller periodic tasks (the conductor's, and the
  image service's upload leases). ``ComputeHost``: the compute agent of one host with its
  hypervisor driver, on the bus only (no database). ``NetworkHost``: the network agent of
  one host with its data-plane drivers, on the bus only. ``VolumeHost``: the volume agent
  of one storage host with its volume driver, on the bus only.
- ``pocketstack up`` runs a ``Controller``, a ``ComputeHost`` and (with a network driver
  that has agents) a ``NetworkHost`` with every role in one process on the in-process bus;
  ``pocketstack controller`` / ``compute`` / ``network-agent`` run them apart.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from pocketstack.common import errors
from pocketstack.common.bus import Bus, connect
from pocketstack.common.config import Config
from pocketstack.common.db import Database

if TYPE_CHECKING:  # the managers are imported when first used, not with this module
    from pocketstack.compute.manager import ComputeManager
    from pocketstack.identity.manager import IdentityManager
    from pocketstack.image.manager import ImageManager
    from pocketstack.network.manager import NetworkManager
    from pocketstack.objectstore.manager import ObjectStoreManager
    from pocketstack.placement.manager import PlacementManager
    from pocketstack.volume.manager import VolumeManager
from pocketstack.common.http import PLAIN_ERRORS, ServiceAPI

LOG = logging.getLogger(__name__)

#: (attribute, manager class path, API module path) of every service, in bootstrap order.
SERVICES = (
    ("identity", "pocketstack.identity.manager:IdentityManager", "pocketstack.identity.api"),
    ("image", "pocketstack.image.manager:ImageManager", "pocketstack.image.api"),
    ("network", "pocketstack.network.manager:NetworkManager", "pocketstack.network.api"),
    ("compute", "pocketstack.compute.manager:ComputeManager", "pocketstack.compute.api"),
    (
        "objectstore",
        "pocketstack.objectstore.manager:ObjectStoreManager",
        "pocketstack.objectstore.api",
    ),
    ("volume", "pocketstack.volume.manager:VolumeManager", "pocketstack.volume.api"),
    (
        "placement",
        "pocketstack.placement.manager:PlacementManager",
        "pocketstack.placement.api",
    ),
)


def _manager_class(path: str) -> Callable[[Cloud], object]:
    """The manager class named by ``module:Class``."""
    module, _, attr = path.partition(":")
    factory: Callable[[Cloud], object] = getattr(importlib.import_module(module), attr)
    return factory


def _service_api(path: str) -> ServiceAPI:
    """The ``API`` of the service API package at ``path``."""
    api: ServiceAPI = importlib.import_module(path).API
    return api


class Cloud:
    """The managers of one controller process.

    Attributes:
        conf, db, bus: shared by every manager.
        identity, image, network, compute, volume, placement: the service managers, each
            built on first use with ``<Manager>(cloud)`` (so a test of one service needs only
            that service).
    """

    identity: IdentityManager
    image: ImageManager
    network: NetworkManager
    compute: ComputeManager
    objectstore: ObjectStoreManager
    volume: VolumeManager
    placement: PlacementManager

    def __init__(self, conf: Config, db: Database, bus: Bus):
        self.conf = conf
        self.db = db
        self.bus = bus
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> object:
        # only the managers declared above get here; their types are the annotations
        paths = {attr: manager for attr, manager, _api in SERVICES}
        if name not in paths:
            raise AttributeError(name)
        with self._lock:
            if name not in self.__dict__:
                self.__dict__[name] = _manager_class(paths[name])(self)
        return self.__dict__[name]


def build_app(cloud: Cloud) -> Starlette:
    """The ASGI app: each service's ``API`` (a ``ServiceAPI``) mounted at its prefix.

    ``GET /`` lists the mounted services (a convenience for humans and health checks).
    """
    app = Starlette()
    app.state.conf = cloud.conf
    app.state.cloud = cloud
    app.state.token_validator = cloud.identity.tokens
    mounted = []
    for _attr, _manager, api_path in SERVICES:
        api = _service_api(api_path)
        app.router.routes.append(api.mount(app.state))
        mounted.append({"name": api.name, "url": cloud.conf.public_url + api.prefix})

    async def root(request: Request) -> JSONResponse:
        if request.method not in ("GET", "HEAD"):
            return _plain_error(errors.MethodNotAllowed("Only GET is allowed here."))
        return JSONResponse({"pocketstack": {"services": mounted}})

    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        response = _plain_error(errors.NotFound("The resource could not be found."))
        await response(scope, receive, send)

    app.router.add_route("/", root, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    # the console proxy's websockets and noVNC's page (Nova's novncproxy / serialproxy)
    from pocketstack.compute.console_proxy import routes as console_routes

    app.router.routes.extend(console_routes())
    app.router.default = not_found
    return app


def _plain_error(err: errors.PocketError) -> JSONResponse:
    """An error outside every service (unknown path or method), as JSON, not plain text."""
    answer = PLAIN_ERRORS.render(err)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


class Controller:
    """API, managers and conductor of one controller process.

    ``start()`` serves the conductor on the bus and starts controller periodic tasks; the
    HTTP server itself is run by the CLI (uvicorn) on ``build_app(self.cloud)``.
    """

    def __init__(self, conf: Config, db: Database, bus: Bus):
        self.cloud = Cloud(conf, db, bus)
        from pocketstack.compute.conductor import Conductor
        from pocketstack.network.agent_reports import NetworkAgentReports

        self.conductor = Conductor(self.cloud)
        self.network_reports = NetworkAgentReports(self.cloud)

    def start(self) -> None:
        """Serve the conductor on the bus and start its recovery and periodic tasks, serve
        the network agents' messages (topic ``network``), and start the image service's
        tasks (uploads a dead controller left are put back to queued)."""
        from pocketstack.network.rpcapi import SERVER_MESSAGES, SERVER_TOPIC

        self.conductor.start()
        self.cloud.bus.serve(SERVER_TOPIC, self.network_reports, SERVER_MESSAGES)
        self.cloud.image.start()
        self._start_volume()

    def _start_volume(self) -> None:
        """Serve the volume agents' messages (topic ``volume_server``) and start the volume
        service's periodic task (this controller's ``cinder-scheduler`` heartbeat)."""
        from pocketstack.volume import rpcapi as volume_rpc

        volume = self.cloud.volume
        self.cloud.bus.serve(
            volume_rpc.SERVER_TOPIC, volume.agent_reports, volume_rpc.SERVER_MESSAGES
        )
        volume.start()

    def stop(self) -> None:
        """Stop the conductor's, the image and volume services' periodic tasks and the
        network and volume agents' endpoints."""
        from pocketstack.network.rpcapi import SERVER_TOPIC
        from pocketstack.volume import rpcapi as volume_rpc

        self.cloud.volume.stop()
        self.cloud.bus.unserve(volume_rpc.SERVER_TOPIC)
        self.cloud.image.stop()
        self.cloud.bus.unserve(SERVER_TOPIC)
        self.conductor.stop()


class ComputeHost:
    """The compute agent of this host (``compute.<hostname>`` on the bus) and its driver.

    It gets no ``Database``: the agent reads and writes through the conductor on ``bus``,
    in ``pocketstack up`` (in-process bus) as in ``pocketstack compute`` (RabbitMQ).
    """

    def __init__(self, conf: Config, bus: Bus):
        from pocketstack.common.drivers import COMPUTE_DRIVERS
        from pocketstack.compute.agent import ComputeAgent

        self.agent = ComputeAgent(conf, bus, COMPUTE_DRIVERS.load(conf.compute_driver, conf))

    def start(self) -> None:
        """Reconcile this host's guests, report it, then serve ``compute.<host>`` on the bus."""
        self.agent.start()

    def stop(self) -> None:
        """Stop the agent; guests keep running unless ``conf.shutdown_instances``."""
        self.agent.stop()


class NetworkHost:
    """The network agent of one host (``network_agent.<host>`` on the bus) with the parts of
    the network driver ``conf.network_driver`` (which must have agents: ``linuxbridge``,
    ``fake``); no ``Database``, as ``ComputeHost``.

    Args:
        conf: the host's ``Config`` (``hostname``, ``netns``, ``local_ip``...).
        bus: the bus to the controllers.
        network_node: also run the DHCP and L3 roles (the network node).
        host, netns: override ``conf.hostname`` / ``conf.netns`` (a lab host's).

    Raises:
        UnknownDriver: the driver has no agents (``noop``) or is unknown.
    """

    def __init__(
        self,
        conf: Config,
        bus: Bus,
        network_node: bool = False,
        host: str | None = None,
        netns: str | None = None,
    ):
        from pocketstack.common.drivers import NETWORK_DRIVERS, load_network_agent_part
        from pocketstack.network.agent import NetworkAgent

        name = conf.network_driver
        netns = (netns if netns is not None else conf.netns) or None
        l2 = NETWORK_DRIVERS.load(name, conf, netns=netns)
        if not l2.has_agents:
            from pocketstack.common.drivers import UnknownDriver

            raise UnknownDriver(f"network_driver {name!r} runs no network agent")

        def part(kind: str) -> object:
            return load_network_agent_part(name, kind, conf, netns=netns)

        self.agent = NetworkAgent(
            conf,
            bus,
            l2,
            part("firewall"),
            dhcp=part("dhcp") if network_node else None,
            l3=part("l3") if network_node else None,
            host=host or conf.hostname,
            netns=netns,
        )

    def start(self) -> None:
        """Report the agent's roles, serve its bus target and make the data plane match."""
        self.agent.start()

    def stop(self) -> None:
        """Stop the agent; the data plane stays as it is."""
        self.agent.stop()


class VolumeHost:
    """The volume agent of one storage host (``volume.<host>`` on the bus) with the driver
    ``conf.volume_driver`` over the pool ``volume_pool_dir`` (default
    ``<state_dir>/volumes``); no ``Database``, as ``ComputeHost``.

    Args:
        conf: the host's ``Config`` (``iscsi_ip``/``iscsi_port`` of its portal, ``netns``
            the export daemons start in, ``[service_user]`` for images).
        bus: the bus to the controllers.
        host: override ``conf.hostname`` (a lab host's).
    """

    def __init__(self, conf: Config, bus: Bus, host: str | None = None):
        from pocketstack.common.drivers import VOLUME_DRIVERS
        from pocketstack.volume.agent import VolumeAgent, pool_dir

        driver = VOLUME_DRIVERS.load(conf.volume_driver, conf, pool_dir(conf))
        self.agent = VolumeAgent(conf, bus, driver, host=host or conf.hostname)

    def start(self) -> None:
        """Settle what a killed agent left, serve ``volume.<host>``, start heartbeats."""
        self.agent.start()

    def stop(self, stop_exports: bool = False) -> None:
        """Stop the agent; tgtd keeps serving attached guests unless ``stop_exports``."""
        self.agent.stop(stop_exports=stop_exports)


def network_agents_enabled(conf: Config) -> bool:
    """Whether ``conf.network_driver`` runs network agents (``NetworkDriver.has_agents``)."""
    from pocketstack.common.drivers import NETWORK_DRIVERS

    return bool(NETWORK_DRIVERS.load_class(conf.network_driver).has_agents)


def open_backends(conf: Config) -> tuple[Database, Bus]:
    """Connect the database (migrated to head) and the bus named by ``conf``."""
    db = Database(conf.database)
    db.upgrade()
    return db, connect(conf.transport)

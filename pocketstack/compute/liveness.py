"""Service liveness: heartbeats of the compute services and whether each is up.

Every compute agent reports a heartbeat of its service over the bus (the conductor's
``report_service`` message, at start and from its periodic task: an agent has no database)
and the conductor records it here (``report_service``); a service is *up* while its last
heartbeat is younger than ``conf.service_down_time`` seconds and an admin has not forced it
down (``service_is_up``).
The scheduler's ``ComputeFilter``, the conductor (deletes on down hosts) and the API's
services, hypervisors and host checks read it from here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from pocketstack.common.db import Database, utcnow
from pocketstack.compute.models import Service

#: The compute agent's service binary. Nova's name, because clients and automation filter
#: on it (``openstack compute service list --service nova-compute``, Ansible, Terraform).
COMPUTE_BINARY = "nova-compute"


def report_service(
    db: Database,
    host: str,
    binary: str = COMPUTE_BINARY,
    topic: str = "compute",
    availability_zone: str = "nova",
) -> None:
    """Record a heartbeat of ``binary`` on ``host``: create or update its ``services`` row.

    Sets ``last_seen_up`` to now and adds one to ``report_count``; keeps ``disabled``,
    ``disabled_reason`` and ``forced_down`` as the admin set them.
    """
    with db.transaction() as s:
        svc = s.execute(
            sa.select(Service).where(Service.host == host, Service.binary == binary)
        ).scalar_one_or_none()
        if svc is None:
            s.add(
                Service(
                    host=host,
                    binary=binary,
                    topic=topic,
                    availability_zone=availability_zone,
                    last_seen_up=utcnow(),
                    report_count=1,
                )
            )
            return
        svc.topic = topic
        svc.availability_zone = availability_zone
        svc.last_seen_up = utcnow()
        svc.report_count = Service.report_count + 1


#: hosts per statement of ``report_services`` (below every database's parameter limit)
BATCH = 500


def report_services(
    db: Database,
    hosts: list[str],
    binary: str = COMPUTE_BINARY,
    topic: str = "compute",
    availability_zone: str = "nova",
) -> None:
    """Record one heartbeat of ``binary`` on each of ``hosts`` in one transaction (a fake
    fleet's hosts report together: one write for 1,000 hosts instead of 1,000), with the
    effect of ``report_service`` on each: rows created for new hosts, ``last_seen_up`` and
    ``report_count`` moved on the others, the admin's fields kept."""
    now = utcnow()
    with db.transaction() as s:
        for i in range(0, len(hosts), BATCH):
            chunk = hosts[i : i + BATCH]
            mine = (Service.binary == binary) & Service.host.in_(chunk)
            known = set(s.scalars(sa.select(Service.host).where(mine)))
            s.execute(
                sa.update(Service)
                .where(mine)
                .values(
                    topic=topic,
                    availability_zone=availability_zone,
                    last_seen_up=now,
                    report_count=Service.report_count + 1,
                )
                .execution_options(synchronize_session=False)
            )
            s.add_all(
                Service(
                    host=host,
                    binary=binary,
                    topic=topic,
                    availability_zone=availability_zone,
                    last_seen_up=now,
                    report_count=1,
                )
                for host in chunk
                if host not in known
            )


def service_is_up(service: Service, conf: Any) -> bool:
    """True when ``service`` is not forced down and reported within ``conf.service_down_time``
    seconds."""
    if service.forced_down or service.last_seen_up is None:
        return False
    age = utcnow() - service.last_seen_up
    return age <= dt.timedelta(seconds=float(conf.service_down_time))


def zone_of_host(db: Database, host: str, default: str) -> str:
    """The availability zone a compute host's service reports (Nova's host AZ: its
    aggregate's zone, as the agent reports it), or ``default`` (``[DEFAULT]
    availability_zone``) for a host with no service row or no zone."""
    with db.reader() as s:
        zone = s.scalars(sa.select(Service.availability_zone).where(Service.host == host)).first()
    return zone or default

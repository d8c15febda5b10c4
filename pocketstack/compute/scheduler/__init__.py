"""The Compute scheduler: pick a host for an instance and claim its resources.

The seeds' two phases, as in Nova's filter scheduler:

1. **Filtering** (``filters/``): each enabled filter drops the hosts that cannot take the
   request (service down or disabled, wrong availability zone, not enough RAM/vCPUs/disk after
   the allocation ratios, image properties the host does not support).
2. **Weighing** (``weighers/``): the remaining hosts are ordered by weighted, normalised free
   RAM and free vCPUs; a positive ``weigher_multiplier`` spreads instances, a negative packs.

Then ``claims.claim`` reserves the resources on the best host with one conditional ``UPDATE``
(atomic on SQLite and PostgreSQL) and falls back to the next host when it loses a race.

- ``manager.SchedulerManager``: ``select_destination``, ``release``, ``claim`` (the conductor).
- ``host_manager``: ``report_compute_node`` (the compute agent), ``list_host_states``;
  service heartbeats and ``service_is_up`` live in ``pocketstack.compute.liveness``.
"""

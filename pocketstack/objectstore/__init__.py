"""Object storage (Swift v1): the ring, storage nodes (account, container and object
servers), their on-disk layout, and the proxy in ``api/``. The design and the node protocol:
docs/object-storage.md."""

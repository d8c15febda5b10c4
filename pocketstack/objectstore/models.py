"""Object storage has no tables in the controller's database: accounts, containers and
objects live on the storage nodes (SQLite per account and container, files per object; see
docs/object-storage.md). This module is kept for the service scaffold."""

"""Volume backups on the storage host: the chunked ``BackupService`` (``chunked.py``) and the
``BackupStore`` it writes objects to (``stores.py``: ``file`` now, ``swift`` with issue 9).

The volume agent dispatches ``create_backup``/``restore_backup``/``delete_backup`` to
``BackupService(driver, conf)``; the controller side is ``pocketstack.volume.backups``.
"""

from pocketstack.volume.backup.chunked import (
    BackupCorrupt,
    BackupError,
    BackupInvalid,
    BackupService,
)
from pocketstack.volume.backup.stores import (
    BackupObjectNotFound,
    BackupStore,
    BackupStoreUnavailable,
    FileBackupStore,
    store_from_conf,
)

__all__ = [
    "BackupCorrupt",
    "BackupError",
    "BackupInvalid",
    "BackupObjectNotFound",
    "BackupService",
    "BackupStore",
    "BackupStoreUnavailable",
    "FileBackupStore",
    "store_from_conf",
]

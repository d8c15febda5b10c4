"""Block Storage (Cinder v3): volumes, snapshots, attachments and backups on files exported
over iSCSI (docs/block-storage.md)."""

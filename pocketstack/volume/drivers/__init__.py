"""Volume drivers (``base.VolumeDriver``): ``file`` (raw/qcow2 files, tgt/NBD exports) and
``fake``; registered in ``pocketstack.common.drivers.VOLUME_DRIVERS``."""

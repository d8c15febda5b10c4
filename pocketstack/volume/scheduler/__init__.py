"""The volume scheduler (Cinder's ``cinder-scheduler`` FilterScheduler): picks the backend
of a new volume from the ``cinder-volume`` services' reported capabilities. ``manager``
builds the backends' states; ``filters/<name>.py`` drop the backends that cannot take the
volume, ``weighers/<name>.py`` rank the rest, one small class per file."""

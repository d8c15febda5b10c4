"""API tests use ``running_cloud`` and ``launch_cloud`` from ``tests/conftest.py``."""

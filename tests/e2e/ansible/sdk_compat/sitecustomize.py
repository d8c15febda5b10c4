"""Lets the openstack.cloud collection that PyPI's ``ansible`` bundles run on today's SDK.

``ansible`` 12 (the last for Python 3.11) bundles openstack.cloud 2.5.0, whose modules read
``openstack.version.__version__`` after a bare ``import openstack``; openstacksdk 4.15 stopped
importing that (deprecated) submodule from the package, so every module failed with
"module 'openstack' has no attribute 'version'" (the collection fixed it in 2.6.0, which only
Galaxy has). tests/e2e/test_ansible.py puts this directory on the modules' PYTHONPATH, so
their Python imports the submodule at start-up. Nothing else of the collection is changed.
"""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import openstack.version  # noqa: F401
    except ImportError:
        pass

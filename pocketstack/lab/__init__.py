"""The lab: several compute hosts on one machine, each in a network namespace.

``Lab(prefix, hosts=N).setup()`` builds (idempotently) the "physical" network of
docs/network-dataplane.md ("The lab"); ``teardown()`` removes it. ``LabHost`` carries what
one host's agents need (``netns``, ``local_ip``, ``physical_interface_mappings``).
"""

from pocketstack.lab.topology import Lab, LabHost, random_prefix

__all__ = ["Lab", "LabHost", "random_prefix"]

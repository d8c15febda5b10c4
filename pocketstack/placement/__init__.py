"""Placement: resource providers, inventories, allocations (OpenStack Placement API)."""

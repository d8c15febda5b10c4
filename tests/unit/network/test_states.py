"""Port status changes (``network.states``): through the table, and what binding does."""

from __future__ import annotations

import pytest

from pocketstack.common import errors
from pocketstack.network import states
from pocketstack.network.models import Port


def test_bound_ports_are_active_and_unbound_down():
    assert states.bound_status("host-1") == states.ACTIVE
    assert states.bound_status("") == states.DOWN


def test_with_agents_a_port_is_down_until_its_agent_reports_it():
    assert states.bound_status("host-1", has_agents=True) == states.DOWN
    # the same binding keeps what the agent reported; unbinding is DOWN whatever it was
    assert states.bound_status("host-1", True, states.ACTIVE) == states.ACTIVE
    assert states.bound_status("", True, states.ACTIVE) == states.DOWN


@pytest.mark.parametrize(
    ("start", "end"),
    [("DOWN", "ACTIVE"), ("ACTIVE", "DOWN"), ("DOWN", "DOWN"), ("BUILD", "ACTIVE")],
)
def test_transitions_in_the_table_happen(start, end):
    port = Port(id="p", status=start)
    states.transition(port, end)
    assert port.status == end


def test_a_transition_outside_the_table_is_refused():
    port = Port(id="p", status=states.ACTIVE)
    with pytest.raises(errors.InvalidState):
        states.transition(port, states.BUILD)
    assert port.status == states.ACTIVE

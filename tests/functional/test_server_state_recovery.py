"""Paused, suspended and rescued servers across a compute agent restart (the whole cloud in
one process, fake hypervisor, as ``test_boot_workflow``): the states stay and the guests
are made again in them, a state action cast while the agent was away is carried out when
it comes back, and every action then goes on from there."""

from __future__ import annotations

from pocketstack.compute import states
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.drivers.base import PowerState
from pocketstack.compute.drivers.fake import FakeDriver
from tests.functional import test_boot_workflow as bw

#: the whole-cloud fixture of the boot workflow tests
env = bw.env
DEMO = bw.DEMO


def _restart_agent(env) -> None:
    env.agent.stop()
    env.driver = FakeDriver(env.conf)  # a new process: the fake forgot its guests
    env.agent = ComputeAgent(env.conf, env.bus, env.driver)
    env.agent.start()


def test_paused_suspended_rescued_survive_an_agent_restart(env):
    acts = env.cloud.compute.server_actions
    paused, suspended, rescued, late = (bw.boot(env, name=n)[0] for n in "psrl")
    for vm in (paused, suspended, rescued, late):
        bw.wait_status(env, vm.uuid, "ACTIVE")
    acts.pause(DEMO, paused.uuid)
    acts.suspend(DEMO, suspended.uuid)
    acts.rescue(DEMO, rescued.uuid)
    bw.wait_status(env, paused.uuid, "PAUSED")
    bw.wait_status(env, suspended.uuid, "SUSPENDED")
    bw.wait_status(env, rescued.uuid, "RESCUE")
    env.agent.stop()  # unserves compute.node1: the cast below finds no agent
    acts.pause(DEMO, late.uuid)
    assert bw.server(env, late.uuid).task_state == states.PAUSING

    _restart_agent(env)
    assert env.driver.get_power_state(paused.uuid) == PowerState.PAUSED
    assert env.driver.get_power_state(suspended.uuid) == PowerState.SUSPENDED
    assert env.driver.rescued_from(rescued.uuid) == env.image
    bw.wait_status(env, late.uuid, "PAUSED")  # carried out after the restart
    assert env.driver.get_power_state(late.uuid) == PowerState.PAUSED
    env.agent.sync_power_states()  # the periodic sync leaves them as they are
    for vm, status in ((paused, "PAUSED"), (suspended, "SUSPENDED"), (rescued, "RESCUE")):
        bw.wait_status(env, vm.uuid, status)

    acts.unpause(DEMO, paused.uuid)
    acts.resume(DEMO, suspended.uuid)
    acts.unrescue(DEMO, rescued.uuid)
    for vm in (paused, suspended, rescued):
        row = bw.wait_status(env, vm.uuid, "ACTIVE")
        assert row.power_state == int(PowerState.RUNNING)
    assert env.driver.rescued_from(rescued.uuid) is None
    for vm in (paused, suspended, rescued, late):
        assert all(a.finish_time for a in env.cloud.compute.actions.list(DEMO, vm.uuid))


def test_a_paused_guest_gone_makes_its_server_shutoff(env):
    (vm,) = bw.boot(env)
    bw.wait_status(env, vm.uuid, "ACTIVE")
    env.cloud.compute.server_actions.pause(DEMO, vm.uuid)
    bw.wait_status(env, vm.uuid, "PAUSED")
    env.driver.power_off(vm.uuid)  # the host lost its QEMU
    row = bw.wait_status(env, vm.uuid, "SHUTOFF")
    assert row.power_state == int(PowerState.SHUTDOWN)

"""Checks of a simulated network against the compiler's models.

``check_timing(cn, res)``, for a pause-free run (``verif.network_sim.run_network``):
frame intervals equal to the cycle model (within 1 %: they are equal on every network
so far), the first-frame latency and the first transfer on every internal stream exactly
as the latency model (``rtl_gen.compiler.latency``) says. Raises AssertionError naming
the network and what differs.
"""

# Frame intervals may differ from the cycle model by this share (measured: 0 so far).
INTERVAL_TOLERANCE = 0.01


def check_timing(cn, res):
    model = cn.cycles_per_frame()
    got = res.frame_intervals()
    assert got and all(abs(g - model) <= INTERVAL_TOLERANCE * model for g in got), \
        f"{cn.name}: frame intervals {got}, cycle model {model}"
    assert res.latency() == cn.latency_cycles(), \
        f"{cn.name}: first-frame latency {res.latency()} cycles, model {cn.latency_cycles()}"
    first_in = res.ports["s_axis"]["first"]
    want = cn.timing().link_first()
    off = {k: (v - first_in, want[k]) for k, v in res.probe_first.items()
           if v - first_in != want[k]}
    assert not off, f"{cn.name}: first beat (measured, model) differs on {off}"

"""Checks of a simulated network against the compiler's models.

``check_timing(cn, res)``, for a pause-free run (``verif.network_sim.run_network``):
frame intervals exactly as the latency model gives them for the same frames
(``model_intervals``), the model's steady-state interval equal to the cycle model, the
first-frame latency and the first transfer on every internal stream exactly
as the latency model (``rtl_gen.compiler.latency``) says. Raises AssertionError naming
the network and what differs.
"""

from rtl_gen.compiler.latency import pipeline_timing

# Frames the latency model runs past a run's own to see its steady state.
SETTLE_FRAMES = 3


def model_intervals(cn, frames):
    """The frame intervals (cycles between the last output beats of consecutive frames)
    of a pause-free run of ``frames`` frames by the latency model. Once the pipeline is in
    its steady state they equal the cycle model; the first can be longer: a block still
    busy with the bunched last pixels of frame f holds frame f+1's first pixels, which
    frame 0 never waits for (random network 933849225: the 1x1 stride-2 conv3 MVU, 64
    cycles a pixel, gets its last two pixels together at the end of conv1's frame and is
    busy with them when the next frame's first pixel arrives, 32 cycles; its max pool
    keeps only pixel (0, 0), so the frame's last output beat carries that delay: 320 then
    288, cycle model 288. 933849331: 198 then 196)."""
    return pipeline_timing(cn.pipeline, frames).frame_intervals()


def check_intervals(cn, got):
    """Measured frame intervals ``got`` exactly the latency model's for that many frames,
    and the model's interval a few frames on the cycle model."""
    model = cn.cycles_per_frame()
    want = model_intervals(cn, len(got) + 1 + SETTLE_FRAMES)
    assert got and got == want[:len(got)], \
        f"{cn.name}: frame intervals {got}, latency model {want[:len(got)]} (cycle model {model})"
    assert want[-1] == model, \
        f"{cn.name}: the latency model's steady-state interval {want}, cycle model {model}"


def check_timing(cn, res):
    check_intervals(cn, res.frame_intervals())
    assert res.latency() == cn.latency_cycles(), \
        f"{cn.name}: first-frame latency {res.latency()} cycles, model {cn.latency_cycles()}"
    first_in = res.ports["s_axis"]["first"]
    want = cn.timing().link_first()
    off = {k: (v - first_in, want[k]) for k, v in res.probe_first.items()
           if v - first_in != want[k]}
    assert not off, f"{cn.name}: first beat (measured, model) differs on {off}"

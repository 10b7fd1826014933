"""Link layer, no simulator: the parallel CRC matrices against zlib.crc32 and a bitwise
CRC-8, the frame format's software model, the sizing formulas, the blocks' parameter
checks, and a lint sweep of random link configurations."""

import random
import zlib

import numpy as np
import pytest

from rtl_gen import QNNError
from rtl_gen.blocks.link.crc import CRC8, CRC32, crc32_words, xor_terms
from rtl_gen.blocks.link.framing import (MAGIC, T_DATA, T_TACK, LaneMonitor, LinkConfig,
                                         encode_control_frame, encode_data_frame,
                                         header_check, make_header, pack_payload,
                                         parse_header, unpack_payload)
from rtl_gen.blocks.link.link import LinkLoopback, LinkRx, LinkTx, link_pair
from verif.lint import lint


def zlib_crc(words, bits):
    return zlib.crc32(b"".join(w.to_bytes(bits // 8, "little") for w in words))


def crc8_bitwise(value, bits):
    """CRC-8 (poly 0x07, MSB first, preset 0): written out independently."""
    reg = 0
    for i in reversed(range(bits)):
        top = (reg >> 7) & 1
        reg = (reg << 1) & 0xFF
        if top ^ ((value >> i) & 1):
            reg ^= 0x07
    return reg


def apply_terms(terms, state, data):
    out = 0
    for i, (s_idx, d_idx, const) in enumerate(terms):
        bit = const
        for j in s_idx:
            bit ^= (state >> j) & 1
        for j in d_idx:
            bit ^= (data >> j) & 1
        out |= bit << i
    return out


@pytest.mark.parametrize("bits", [32, 64, 128, 192, 512])
def test_parallel_crc32_matches_zlib(bits):
    """The XOR matrix the hardware is generated from, stepped word by word, equals
    zlib.crc32 over the words' little-endian bytes (random frames of 1..40 words)."""
    rng = random.Random(bits)
    step = xor_terms(CRC32, bits)
    first = xor_terms(CRC32, bits, state=False)
    for _ in range(40):
        words = [rng.getrandbits(bits) for _ in range(rng.randint(1, 40))]
        reg = apply_terms(first, 0, words[0])
        for w in words[1:]:
            reg = apply_terms(step, reg, w)
        assert reg ^ 0xFFFFFFFF == zlib_crc(words, bits) == crc32_words(words, bits)


def test_crc8_header_check_matches_bitwise():
    rng = random.Random(5)
    terms = xor_terms(CRC8, 56, state=False)
    for _ in range(500):
        body = rng.getrandbits(56)
        assert apply_terms(terms, 0, body) == crc8_bitwise(body, 56) == \
            header_check(body << 8)


def test_header_roundtrip_and_rejections():
    h = make_header(T_DATA, seq=4095, aux=255, k=12345, flags=1)
    p = parse_header(h, 64)
    assert (p.ftype, p.seq, p.aux, p.k, p.flags) == (T_DATA, 4095, 255, 12345, 1)
    assert h >> 56 == MAGIC
    for bit in range(64):       # every single-bit error in a header is caught
        assert parse_header(h ^ (1 << bit), 64) is None
    assert parse_header(h | (1 << 70), 128) is None      # upper lane bits must be zero
    assert parse_header(make_header(T_TACK, seq=3, aux=9, k=2), 64).ftype == T_TACK


@pytest.mark.parametrize("stream_bits", [1, 16, 63, 64, 100, 300])
def test_payload_packing_roundtrip(stream_bits):
    cfg = LinkConfig(lane_bits=64, stream_bits=stream_bits, max_frame=8)
    rng = random.Random(stream_bits)
    for k in sorted({1, min(2, cfg.kmax), cfg.kmax}):
        beats = [(rng.getrandbits(stream_bits), rng.random() < 0.3) for _ in range(k)]
        words = pack_payload(beats, cfg)
        assert len(words) == cfg.lane_beats(k) <= cfg.max_frame
        # no wasted bits except in the last lane beat
        assert (len(words) - 1) * 64 < k * (stream_bits + 1) <= len(words) * 64
        assert unpack_payload(words, k, cfg) == beats


def test_lane_monitor_splits_frames_and_checks_crc():
    cfg = LinkConfig(lane_bits=64, stream_bits=20, max_frame=4)
    rng = random.Random(2)
    frames = [[(rng.getrandbits(20), False) for _ in range(rng.randint(1, cfg.kmax))]
              for _ in range(5)]
    lane = []
    for i, beats in enumerate(frames):
        lane += [rng.getrandbits(64)] if i == 2 else []       # garbage between frames
        lane += encode_data_frame(i, beats, cfg)
        lane += encode_control_frame(T_TACK, seq=i)[:0]
    lane[-2] ^= 1 << 7                                        # corrupt the last frame
    mon = LaneMonitor(cfg, (T_DATA,), lambda ws: zlib_crc(ws, 64))
    for w in lane:
        mon.beat(w)
    assert [f.header.seq for f in mon.frames] == list(range(5))
    assert [f.crc_ok for f in mon.frames] == [True] * 4 + [False]
    assert [unpack_payload(f.payload, f.header.k, cfg) for f in mon.frames[:4]] == frames[:4]


def test_sizing_formulas():
    """Replay buffer and receive slots follow the stated formulas."""
    cfg = LinkConfig(lane_bits=64, stream_bits=64, max_frame=256, lane_latency=64)
    rt = (256 + 2) + 2 * 64 + 3 + 5 + 4
    assert cfg.round_trip == rt
    in_flight = -(-rt // 258)
    assert cfg.replay_words >= 256 * (in_flight + 2)
    assert cfg.replay_words & (cfg.replay_words - 1) == 0
    assert cfg.rx_slots >= -(-(rt + 256 + 4) // 258) + 1
    assert cfg.replay_timeout > cfg.round_trip
    small = LinkConfig(max_frame=8, lane_latency=16)
    assert small.descriptors >= -(-small.round_trip // 3)


@pytest.mark.parametrize("kwargs,match", [
    (dict(lanes=0, bits=8), r"lanes of the carried stream"),
    (dict(lanes=1, bits=8, lane_bits=32), r"lane width.*valid: an integer from 64"),
    (dict(lanes=1, bits=8, lane_bits=100), r"whole number of bytes"),
    (dict(lanes=1, bits=8, max_frame=300), r"payload lane beats per frame.*1 to 256"),
    (dict(lanes=64, bits=128), r"stream width"),
    (dict(lanes=1, bits=8, max_replays=0), r"replays before a retrain"),
    (dict(lanes=2, bits=100, max_frame=3), r"3 lane beats of 64 bits cannot hold one stream beat"),
])
def test_bad_parameters(kwargs, match, tmp_path):
    for cls in (LinkTx, LinkRx):
        with pytest.raises(QNNError, match=match):
            cls("cut", **kwargs).generate(tmp_path)
    assert not list(tmp_path.glob("*.v"))


def test_link_ends_are_not_stream_blocks():
    tx, rx = link_pair("cut", 2, 8)
    with pytest.raises(QNNError, match="link_sim"):
        tx.random_inputs(np.random.default_rng(0), 2)
    with pytest.raises(QNNError, match="link_sim"):
        rx.reference({})
    assert [p.name for p in tx.extra_ports()][:6] == [
        "tx_lane_data", "tx_lane_valid", "tx_lane_last", "tx_lane_ready", "rx_lane_data",
        "rx_lane_valid"]


def _random_link(rng, i):
    lane = int(rng.choice([64, 64, 128, 192]))
    kw = dict(lanes=int(rng.integers(1, 9)), bits=int(rng.integers(1, 40)), lane_bits=lane,
              max_frame=int(rng.choice([1, 2, 3, 8, 17, 64, 256])),
              lane_latency=int(rng.integers(0, 200)), flush_cycles=int(rng.integers(1, 100)),
              max_replays=int(rng.integers(1, 6)))
    need = -(-(kw["lanes"] * kw["bits"] + 1) // lane)     # one stream beat per frame
    kw["max_frame"] = max(kw["max_frame"], need)
    return link_pair(f"sweep_link{i}", **kw)


@pytest.mark.parametrize("i", range(3))
def test_random_link_configs_lint_clean(i, tmp_path):
    rng = np.random.default_rng(100 + i)
    for blk in _random_link(rng, i):
        rtl = blk.generate(tmp_path / blk.name)
        lint(rtl.files, rtl.top)


def test_loopback_lints(tmp_path):
    blk = LinkLoopback("loop_lint", lanes=3, bits=7, lane_bits=128, max_frame=5,
                       lane_delay=0)
    rtl = blk.generate(tmp_path)
    lint(rtl.files, rtl.top)

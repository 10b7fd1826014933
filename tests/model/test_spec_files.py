"""Spec files: every malformed file ends in one clear QNNError (exit code 2 from the CLI),
never a traceback. The three cases that used to escape as numpy, Python or PyYAML
tracebacks are tested by name; a seeded mutator then breaks valid spec files in every
way it can (types, shapes, missing and extra fields, broken syntax) and requires either
a clean QNNError or a network that plans."""

import copy
import functools
import json
import os

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtl_gen.compiler.compile import plan
from rtl_gen.designs.random_nets import random_network
from rtl_gen.errors import QNNError
from rtl_gen.model.serialize import load, to_dict
from streamqnn.cli import main

SMALL = {"name": "n", "input_shape": [4, 4, 2], "input_bits": 2, "layers": [
    {"type": "Conv", "name": "c", "out_channels": 2, "kernel": 1,
     "weights": [[[[1, -1]]], [[[1, 1]]]]},
    {"type": "Threshold", "name": "t", "act_bits": 1, "thresholds": [[0], [1]]}]}


def _write(tmp_path, text, suffix=".yaml"):
    path = tmp_path / f"spec{suffix}"
    path.write_text(text)
    return path


def test_ragged_weights(tmp_path, capsys):
    bad = copy.deepcopy(SMALL)
    bad["layers"][0]["weights"] = [[[[1, -1]]], [[[1]]]]
    path = _write(tmp_path, yaml.safe_dump(bad))
    with pytest.raises(QNNError, match=r"layer 'c': weights are a ragged nested list"):
        load(path)
    assert main(["estimate", str(path)]) == 2
    assert "layer 'c': weights are a ragged" in capsys.readouterr().err


def test_empty_layer_list(tmp_path, capsys):
    path = _write(tmp_path, yaml.safe_dump(dict(SMALL, layers=[])))
    assert main(["estimate", str(path)]) == 2
    assert "network 'n' has no layers (valid: at least one layer)" in capsys.readouterr().err


@pytest.mark.parametrize("text, suffix, where", [
    ("name: n\ninput_shape: [4, 4\nlayers: []\n", ".yaml", "line 3, column 7"),
    ("name: n\n  input_shape: [4, 4, 2]\n", ".yaml", "line 2"),
    ('{"name": "n", "input_shape": [4, 4, 2],,}', ".json", "line 1, column 40"),
])
def test_not_yaml_or_json(tmp_path, capsys, text, suffix, where):
    path = _write(tmp_path, text, suffix)
    assert main(["estimate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"spec file '{path}' is not valid" in err and where in err, err
    assert "Traceback" not in err


def _leaves(d, path=()):
    """Every (path, value) of a nested dict/list, containers included."""
    yield path, d
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else ()
    for k, v in items:
        yield from _leaves(v, path + (k,))


REPLACEMENTS = [None, -1, 0, 3, 10 ** 9, 2.5, True, "x", "", [], [1, 2], {}, {"a": 1},
                [[1, 2], [3]], "int9", "bipolar", "Conv", "input"]


def mutate(spec, rng):
    """One random mutation of a spec dict, or of its YAML text: returns the file text."""
    spec = copy.deepcopy(spec)
    how = rng.integers(6)
    places = [(p, v) for p, v in _leaves(spec) if p]
    path, _ = places[rng.integers(len(places))]
    parent = spec
    for k in path[:-1]:
        parent = parent[k]
    if how == 0:      # replace a value by one of another type or range
        parent[path[-1]] = copy.deepcopy(REPLACEMENTS[rng.integers(len(REPLACEMENTS))])
    elif how == 1:    # drop a field or an element
        del parent[path[-1]]
    elif how == 2:    # an unknown field
        target = parent if isinstance(parent, dict) else spec
        target["extra_" + str(rng.integers(9))] = 1
    elif how == 3 and spec.get("layers"):   # a duplicated or reordered layer
        layers = spec["layers"]
        i, j = rng.integers(len(layers), size=2)
        if rng.random() < 0.5:
            layers.insert(j, copy.deepcopy(layers[i]))
        else:
            layers[i], layers[j] = layers[j], layers[i]
    text = yaml.safe_dump(spec, default_flow_style=None)
    if how == 4:      # broken syntax: a cut, or a stray character
        cut = rng.integers(1, len(text))
        text = text[:cut] if rng.random() < 0.5 else text[:cut] + rng.choice(list("[]{}:,-'\"\t")) + text[cut:]
    if how == 5:      # a shape number changed
        spec["input_shape"] = [int(v) for v in rng.integers(0, 6, size=3)]
        text = yaml.safe_dump(spec, default_flow_style=None)
    return text


@functools.lru_cache(maxsize=1)
def valid_specs(count=6):
    """The dict forms of the first ``count`` random networks that plan (plain lists and
    numbers, as a file holds them)."""
    found = []
    for seed in range(1000):
        try:
            net = random_network(seed)
            plan(net)
        except QNNError:
            continue
        found.append(json.loads(json.dumps(to_dict(net))))
        if len(found) == count:
            return found
    raise AssertionError("too few valid random networks")


def check_mutations(seed, tmp_path, count):
    bases = valid_specs()
    base = bases[seed % len(bases)]
    rng = np.random.default_rng(seed)
    for i in range(count):
        path = tmp_path / f"m{i}.yaml"
        path.write_text(mutate(base, rng))
        try:
            plan(load(path), target_cycles=int(rng.choice([0, 100, 5000])) or None)
        except QNNError:
            pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2 ** 31))
def test_mutated_spec_files_get_clean_errors(tmp_path, seed):
    check_mutations(seed, tmp_path, 5)


@pytest.mark.nightly
@settings(max_examples=int(os.environ.get("STREAMQNN_NIGHTLY_EXAMPLES", 2000)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2 ** 31))
def test_mutated_spec_files_get_clean_errors_nightly(tmp_path, seed):
    check_mutations(seed, tmp_path, 5)

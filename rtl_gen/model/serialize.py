"""YAML and JSON files for network specs: plain dicts, weights as nested lists; exact."""

import json
from pathlib import Path

import yaml

from rtl_gen.errors import QNNError, require
from rtl_gen.model.netgraph import LAYER_TYPES, Network

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_EXTS = ".yaml, .yml or .json"


def to_dict(net):
    """The plain (YAML/JSON-ready) dict form of a Network."""
    return net.to_dict()


def _layer_from_dict(i, d):
    require(isinstance(d, dict), None, f"layer entry {i} is not a mapping",
            "a mapping with 'type' and 'name'")
    d = dict(d)
    kind = d.pop("type", None)
    name = d.get("name", f"#{i}")
    cls = LAYER_TYPES.get(kind)
    require(cls is not None, name, f"unknown layer type {kind!r}", ", ".join(LAYER_TYPES))
    allowed = [f for f in cls.__dataclass_fields__]
    extra = [k for k in d if k not in allowed]
    require(not extra, name, f"unknown field(s) {extra} for {kind}", ", ".join(allowed))
    try:
        return cls(**d)
    except TypeError as e:
        raise QNNError(name, f"cannot build {kind}: {e}", ", ".join(allowed)) from None


def from_dict(d):
    """A Network from its dict form (inverse of to_dict)."""
    require(isinstance(d, dict) and "name" in d and "input_shape" in d, None,
            "a network file must be a mapping with name and input_shape",
            "name, input_shape, input_bits, layers")
    extra = [k for k in d if k not in ("name", "input_shape", "input_bits", "layers")]
    require(not extra, None, f"unknown network field(s) {extra}",
            "name, input_shape, input_bits, layers")
    layers = [_layer_from_dict(i, e) for i, e in enumerate(d.get("layers") or [])]
    return Network(d["name"], tuple(d["input_shape"]), d.get("input_bits", 8), layers)


def _kind(path):
    ext = Path(path).suffix.lower()
    require(ext in (".yaml", ".yml", ".json"), None, f"unknown spec file type '{path}'", _EXTS)
    return "json" if ext == ".json" else "yaml"


def save(net, path):
    """Write a Network to a .yaml/.yml/.json file."""
    d = to_dict(net)
    with open(path, "w") as f:
        if _kind(path) == "json":
            json.dump(d, f)
            f.write("\n")
        else:
            yaml.dump(d, f, Dumper=_Dumper, sort_keys=False, default_flow_style=None)


def load(path):
    """Read a Network from a .yaml/.yml/.json file."""
    kind = _kind(path)
    with open(path) as f:
        d = json.load(f) if kind == "json" else yaml.load(f, Loader=_Loader)
    return from_dict(d)

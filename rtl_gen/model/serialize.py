"""YAML and JSON files for network specs: plain dicts, weights as nested lists; exact."""

import json
from pathlib import Path

import yaml

from rtl_gen.errors import QNNError, require
from rtl_gen.model.netgraph import LAYER_TYPES, Network

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_EXTS = ".yaml, .yml or .json"
_FIELDS = ("name", "input_shape", "input_bits", "layers", "input_signed", "metadata")


def to_dict(net):
    """The plain (YAML/JSON-ready) dict form of a Network."""
    return net.to_dict()


def _layer_from_dict(i, d):
    require(isinstance(d, dict), None, f"layer entry {i} is not a mapping",
            "a mapping with 'type' and 'name'")
    d = dict(d)
    kind = d.pop("type", None)
    name = d.get("name", f"#{i}")
    cls = LAYER_TYPES.get(kind) if isinstance(kind, str) else None
    require(cls is not None, name, f"unknown layer type {kind!r}", ", ".join(LAYER_TYPES))
    allowed = [f for f in cls.__dataclass_fields__]
    extra = [k for k in d if k not in allowed]
    require(not extra, name, f"unknown field(s) {extra} for {kind}", ", ".join(allowed))
    try:
        return cls(**d)
    except QNNError:
        raise
    except (TypeError, ValueError) as e:
        raise QNNError(name, f"cannot build {kind}: {e}", ", ".join(allowed)) from None


def from_dict(d):
    """A Network from its dict form (inverse of to_dict)."""
    require(isinstance(d, dict) and "name" in d and "input_shape" in d, None,
            "a network file must be a mapping with name and input_shape",
            ", ".join(_FIELDS))
    extra = [k for k in d if k not in _FIELDS]
    require(not extra, None, f"unknown network field(s) {extra}", ", ".join(_FIELDS))
    layers = d.get("layers") or []
    require(isinstance(layers, list), None, f"the layers of network {d['name']!r} are a "
            f"{type(layers).__name__}, not a list", "a list of layer mappings")
    layers = [_layer_from_dict(i, e) for i, e in enumerate(layers)]
    shape = d["input_shape"]
    return Network(d["name"], tuple(shape) if isinstance(shape, list) else shape,
                   d.get("input_bits", 8), layers, d.get("input_signed", False),
                   d.get("metadata") or {})


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


def _parse(path, kind):
    """The file's contents as plain data; a clear QNNError naming the file (and the line and
    column of a syntax error) otherwise."""
    valid = "a YAML or JSON mapping: name, input_shape, input_bits, layers"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise QNNError(None, f"spec file '{path}' cannot be read ({exc.strerror})",
                       "a readable file") from None
    except UnicodeDecodeError as exc:
        raise QNNError(None, f"spec file '{path}' is not UTF-8 text (byte {exc.start})",
                       valid) from None
    try:
        return json.loads(text) if kind == "json" else yaml.load(text, Loader=_Loader)
    except json.JSONDecodeError as exc:
        raise QNNError(None, f"spec file '{path}' is not valid JSON: {exc.msg} at line "
                       f"{exc.lineno}, column {exc.colno}", valid) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise QNNError(None, f"spec file '{path}' is not valid YAML: {problem}{where}",
                       valid) from None


def load(path):
    """Read a Network from a .yaml/.yml/.json file."""
    return from_dict(_parse(path, _kind(path)))

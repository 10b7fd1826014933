"""StreamQNN: quantized neural networks to streaming FPGA hardware, proven bit-exact."""

from rtl_gen.errors import QNNError

__all__ = ["QNNError"]
__version__ = "0.1.0"

"""The limits of what StreamQNN builds, in one place.

``infer`` refuses any spec beyond them with a QNNError naming the layer (so that whatever
the model accepts, the compiler and every block can build); the blocks check the same
constants on their own parameters. Nothing else in the code limits a spec.
"""

# Bits of one stream element: activation codes, accumulators, pooled sums, residual sums.
MAX_ELEMENT_BITS = 32
# Height and width of any tensor (the line buffer's row and column counters).
MAX_DIM = 4096
# Channels of any tensor.
MAX_CHANNELS = 1 << 16
# Values one arg-max compares per frame.
MAX_ARGMAX_INPUTS = 1 << 24
# Bits of one stream beat (lanes x element bits): every beat of a spec within the limits
# above fits, whatever the folding.
MAX_BEAT_BITS = MAX_CHANNELS * MAX_ELEMENT_BITS
# Pixels per frame (MAX_DIM squared).
MAX_PIXELS = MAX_DIM * MAX_DIM

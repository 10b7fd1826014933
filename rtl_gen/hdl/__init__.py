"""Stream plumbing every block generator shares: the stream bundle and skid buffer, lanes,
adder trees, registers, ROMs, beat-timing helpers, the block base class and the one step
that turns a block's MyHDL into a Verilog module."""

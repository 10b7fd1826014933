"""The matrix-vector unit: weight encoding and datapath choice (``weights``), the
pipelined dot-product datapath (``datapath``) and the block (``mvu``)."""

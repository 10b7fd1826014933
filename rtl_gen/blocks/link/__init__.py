"""The inter-FPGA link layer: a TX and an RX block per cut (``link.py``), the frame
format and sizing (``framing.py``), parallel CRCs (``crc.py``), shared lane logic
(``lane_hdl.py``)."""

"""The sliding window unit: the line buffer (ring of rows and window read-out), the common
base of window blocks, and the sliding-window block itself (max pool builds on it too)."""

"""The block generators: one module per streaming block (the window unit and the MVU as
small subpackages); ``catalog`` lists every configuration the tests exercise."""

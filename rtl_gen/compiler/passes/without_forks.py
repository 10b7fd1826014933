"""Spec rewrite: explicit Fork layers removed (their readers read the fork's source).

The compiler inserts fork blocks wherever a tensor has several readers
(``insert_forks``), so a Fork layer in a spec adds nothing to the hardware.
"""

import copy
import dataclasses

from rtl_gen.model.netgraph import Add, Fork


def without_forks(net):
    """The same network with explicit Fork layers removed."""
    alias = {}
    layers = []
    for lay in net.layers:
        srcs = [alias.get(x, x) for x in net.sources(lay)]
        if isinstance(lay, Fork):
            alias[lay.name] = srcs[0]
            continue
        lay = copy.copy(lay)
        if isinstance(lay, Add):
            lay.inputs = tuple(srcs)
        else:
            lay.input = srcs[0]
        layers.append(lay)
    return dataclasses.replace(net, layers=layers)

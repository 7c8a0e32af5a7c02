"""Choosing the order of the rerun run.

The sandbox plugin runs `reruns + 1` rounds of the selected items and shuffles round r with
`random.Random(f"{seed}:{r}")`. That is a fixed permutation for a given seed and length, so it
can be undone in advance: hand pytest the items in the order that round 0's shuffle turns into
the order wanted (reverse file order, so each test first meets only the tests that came after
it), and let the later rounds be random.
"""

from __future__ import annotations

import random


def presorted(target: list[str], seed: int) -> list[str]:
    """The select order with which the plugin's round 0 runs exactly `target`."""
    perm = list(range(len(target)))
    random.Random(f"{seed}:0").shuffle(perm)
    ordered = [""] * len(target)
    for position, source in enumerate(perm):
        ordered[source] = target[position]
    return ordered


def shuffled(select: list[str], seed: int, round_index: int) -> list[str]:
    """Round `round_index` as the plugin orders it."""
    batch = list(select)
    random.Random(f"{seed}:{round_index}").shuffle(batch)
    return batch

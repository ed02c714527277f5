# SPDX-License-Identifier: GPL-3.0-or-later
"""SplitMix64 (Steele, Lea, Flood): the generator the C tests draw their
inputs from, for the fixture generators that write what those inputs must
give."""

MASK = (1 << 64) - 1


def splitmix64(state):
    """Returns (new_state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)

"""The ``makemore4`` pack: the lecture "Building makemore Part 4: Becoming a Backprop Ninja"."""

from __future__ import annotations

from collections.abc import Callable

from grader.kit import Exercise


def register(add: Callable[[type[Exercise]], object]) -> None:
    """Register the four exercises of the pack (entry point ``backprop_grader.exercises``)."""
    from exercises.makemore4 import (
        ex1_full_backprop,
        ex2_cross_entropy,
        ex3_batchnorm,
        ex4_training_loop,
    )

    for module in (ex1_full_backprop, ex2_cross_entropy, ex3_batchnorm, ex4_training_loop):
        add(module.EXERCISE)

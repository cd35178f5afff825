"""How chapters write numbers (``mdlib.book.number`` and ``interval``): one rounding, never "-0.0".

Specification: a value rounds to the digits asked; a value that rounds to zero is written without a
sign ("0.0", never "-0.0"); with ``sign`` a positive value gets a "+", as a difference should; an
interval is "mean [low, high]" with each part written so.
"""

from __future__ import annotations

import pytest

from mdlib.book import interval, number


@pytest.mark.parametrize(
    "value, digits, sign, text",
    [
        (12.25, 1, False, "12.2"),
        (-0.04, 1, False, "0.0"),
        (-0.004, 2, True, "0.00"),
        (0.004, 2, True, "0.00"),
        (-0.06, 1, False, "-0.1"),
        (0.06, 1, True, "+0.1"),
        (3.0, 0, True, "+3"),
        (-2.5, 1, True, "-2.5"),
    ],
)
def test_a_number_rounds_once_and_a_zero_has_no_sign(value, digits, sign, text):
    assert number(value, digits, sign) == text


def test_an_interval_writes_each_part_the_same_way():
    assert interval(-0.001, -0.45, 0.448, digits=2, sign=True) == "0.00 [-0.45, +0.45]"
    assert interval(50.44, 49.96, 50.91) == "50.4 [50.0, 50.9]"

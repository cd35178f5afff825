"""The nbval sanitize rules make outputs portable across CPUs without hiding a real change.

Strict nbval compares every committed output of every chapter with a fresh run, on the reader's
machine. The rules in ``tests/nbval-sanitize.cfg`` are applied to both sides first; here they
are read with nbval's own parser and fed the outputs that differed between CPUs (issue: the
same computation printed 54.943094342932724 on one CPU and 54.9430943429327 on another), and
outputs that differ for real, which must still differ.
"""

from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

from mdlib.book import SIGNIFICANT_DIGITS, portable

RULES = get_sanitize_patterns((Path(__file__).parent / "nbval-sanitize.cfg").read_text())


def sanitize(text: str) -> str:
    import re

    for regex, replacement in RULES:
        text = re.sub(regex, replacement, text)
    return text


@pytest.mark.parametrize(
    "one, other",
    [
        ("54.943094342932724", "54.9430943429327"),
        ("54.94309434293271", "54.94309434293272"),
        ("2.4088754690709577", "2.408875469070958"),
        ("value 0.1234567890123456 at", "value 0.1234567890123999 at"),
        ("[54.943094342932724, 2.4088754690709577]", "[54.9430943429327, 2.408875469070958]"),
        ("<Foo at 0x7f3a2b1c9d80>", "<Foo at 0x7f00aa11bb22>"),
    ],
)
def test_cpu_dependent_digits_are_normalised(one, other):
    assert one != other and sanitize(one) == sanitize(other)


@pytest.mark.parametrize(
    "one, other",
    [
        ("54.943094342932724", "55.943094342932724"),  # a changed first decimal...
        ("54.943094342932724", "54.843094342932724"),
        ("54.943094342932724", "54.943104342932724"),  # ... or fifth decimal still fails
        ("54.9430943429327", "54.94309"),  # a full-precision float is not a short one
        ("54.94", "54.95"),  # short floats are compared as they are
        ("0.1234567890", "0.1234567891"),  # ten decimals: not a full-precision repr, left alone
        ("12 seeds", "13 seeds"),
    ],
)
def test_real_changes_still_fail(one, other):
    assert sanitize(one) != sanitize(other)


def test_glue_records_significant_digits_only():
    assert SIGNIFICANT_DIGITS == 8
    assert portable(54.943094342932724) == portable(54.9430943429327) == 54.943094
    assert portable(2.4088754690709577) == 2.4088755
    assert portable(-0.00012345678912) == -0.00012345679
    assert portable(1234567.891) == 1234567.9
    assert portable((0.30000000000000004, [1 / 3])) == (0.3, [0.33333333])
    import numpy as np

    assert type(portable(np.float64(1.5))) is float and type(portable(np.int64(3))) is int
    assert portable(True) is True and portable("54.943094342932724") == "54.943094342932724"
    assert repr(portable(90.48952)) == "90.48952"


def test_intervals_print_cleanly():
    from mdlib.book import interval, number

    assert number(-0.04) == "0.0" and number(-0.05, 2) == "-0.05" and number(2.25, 1) == "2.2"
    assert interval(1.234, -0.01, 2.5) == "1.2 [0.0, 2.5]"

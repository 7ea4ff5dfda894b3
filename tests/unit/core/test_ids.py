from __future__ import annotations

import pytest

from titan.core.ids import ClientOrderIds, parse_seq


def test_ids_are_sequential_short_and_parseable():
    ids = ClientOrderIds("TTN")
    a, b = ids.next("hunter"), ids.next("scavenger")
    assert a == "TTN-hun-0000000001" and b == "TTN-sca-0000000002"
    assert len(a) <= 36 and parse_seq(b) == 2


def test_restart_never_reuses_an_id():
    first = ClientOrderIds("TTN")
    used = [first.next("hunter") for _ in range(5)]
    again = ClientOrderIds("TTN")
    for cid in used:
        again.observe(cid)
    assert again.next("hunter") not in used
    again.observe("garbage")  # foreign ids are ignored
    assert again.next_seq == 7


@pytest.mark.parametrize("prefix", ["", "has-dash", "waytoolongprefix"])
def test_bad_prefix(prefix):
    with pytest.raises(ValueError, match="prefix"):
        ClientOrderIds(prefix)

"""Random venue histories for state and reconciliation properties: what happened at the venue,
and the (possibly corrupted) stream of reports Titan saw of it."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import strategies as st

from tests.unit.state.venue_model import INSTRUMENTS, VenueModel
from titan.core import events as ev

SIDES = st.sampled_from([ev.Side.BUY, ev.Side.SELL])
PHASES = st.sampled_from(["hunter", "scavenger", "sentinel"])
BASE = (Decimal(30000), Decimal("0.1"), Decimal(2000))
STEP = (Decimal(10), Decimal("0.001"), Decimal(5))
LOT = (Decimal("0.001"), Decimal(1), Decimal("0.01"))

TITAN_KINDS = ["submit"] * 3 + ["accept"] * 2 + ["fill"] * 5 + ["cancel", "reject"]
# (kind, instrument or order index, side, lots, price step, fraction index, phase, flag, flag)
step = st.tuples(st.integers(0, 99), SIDES, st.integers(1, 40), st.integers(0, 20),
                 st.integers(0, 2), PHASES, st.booleans(), st.booleans())
titan_op = st.tuples(st.sampled_from(TITAN_KINDS), step)
op = st.tuples(st.sampled_from([*TITAN_KINDS, "external"]), step)
FRACTIONS = (Decimal("0.3"), Decimal("0.5"), Decimal(1))


def play(ops):
    """Run the history; returns the model, Titan's commands and the reports, in venue order."""
    venue = VenueModel()
    commands: list[ev.SubmitOrder] = []
    reports: list[ev.Message] = []
    titan: list[str] = []
    for kind, (n, side, lots, px, frac, phase, anonymous, fill_now) in ops:
        i = n % 3
        price = BASE[i] + STEP[i] * px
        if kind == "submit":
            cmd, cid = venue.submit(INSTRUMENTS[i], side, LOT[i] * lots, price, phase)
            commands.append(cmd)
            titan.append(cid)
        elif kind == "external":
            cid = venue.external(INSTRUMENTS[i], side, LOT[i] * lots, price, anonymous)
            if fill_now:
                venue.fill(cid, FRACTIONS[frac], price, Decimal(2))
        elif titan:
            cid = titan[n % len(titan)]
            if kind == "fill":
                i = INSTRUMENTS.index(venue.orders[cid].inst)
                reports += venue.fill(cid, FRACTIONS[frac], BASE[i] + STEP[i] * px, Decimal("5.5"))
            else:
                reports += getattr(venue, kind)(cid)
    return venue, commands, reports


def corrupt(commands, reports, seed, drop, dup):
    """Drop and duplicate reports, shuffle them, and put each command before its first report
    (commands are logged before they are sent, so none can be missing or late)."""
    rng = random.Random(seed)
    out = []
    for r in reports:
        x = rng.random()
        if x < drop:
            continue
        out.append(r)
        if x > 1 - dup:
            out.append(r)
    rng.shuffle(out)
    stream = []
    pending = {c.client_order_id: c for c in commands}
    for r in out:
        c = pending.pop(r.client_order_id, None)
        if c is not None:
            stream.append(c)
        stream.append(r)
    return list(pending.values()) + stream



"""Decoding a batch of stream entries at once, with bad entries set aside."""

from __future__ import annotations

import orjson

from service.stream.codec import decode_entries, decode_entry, encode_events
from tests.service.eventgen import make_events


def test_decode_entries_sets_bad_entries_aside() -> None:
    good = encode_events(make_events(n_normal=1, harvesters=0, hours=1))[:3]
    entries = [
        (b"1-0", {b"e": good[0]}),
        (b"2-0", {b"e": b"[not json"}),
        (b"3-0", {b"e": good[1]}),
        (b"4-0", {b"x": b"no e field"}),
        (b"5-0", {b"e": orjson.dumps([99, 1.0])}),
        (b"6-0", {b"e": good[2]}),
    ]
    rows, bad = decode_entries(entries)
    assert rows == [decode_entry(g) for g in good]
    assert [b[0] for b in bad] == [b"2-0", b"4-0", b"5-0"]
    assert all(reason.startswith("decode_error") for _id, _f, reason in bad)
    rows_all, bad_all = decode_entries([entries[0], entries[2], entries[5]])
    assert rows_all == rows and not bad_all

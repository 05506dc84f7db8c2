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


def test_model_first_in_records_and_legacy_records_still_read() -> None:
    """Records keep each model's first use (merged by minimum, kept by compaction);
    records written before it (three-list heavy-hitter JSON) still parse and merge."""
    import struct

    from detector.aggregates import aggregate_events, event_columns
    from service.stream.state_store import (
        encode_merged,
        fold_batch,
        merge_records,
        parse_records,
    )

    events = make_events(n_normal=3, harvesters=0, hours=2)
    for i, e in enumerate(events):
        e["model"] = ("gpt-4o", "gpt-next", None)[i % 3]
    expected = {a: st.model_first for a, st in aggregate_events(events).items()}
    deltas = fold_batch(event_columns(events))
    by_account: dict[str, list] = {}
    for acct, hour, payload in zip(deltas.accounts, deltas.hours, deltas.payloads, strict=True):
        by_account.setdefault(acct, []).extend((hour, r) for r in parse_records(payload))
    for acct, recs in by_account.items():
        m = merge_records(recs)
        assert m.model_first == expected[acct]
        (compacted,) = parse_records(encode_merged(m, 0, 32))
        assert merge_records([(0, compacted)]).model_first == expected[acct]

    # a legacy record: the same bytes with the heavy hitters' fourth item dropped
    payload = deltas.payloads[0]
    rec = parse_records(payload)[0]
    legacy_json = orjson.dumps(rec.tops[:3])
    tail = len(orjson.dumps(rec.tops))
    body = payload[4 : len(payload) - tail] + legacy_json
    legacy = struct.pack("<I", 4 + len(body)) + body
    (old,) = parse_records(legacy)
    assert len(old.tops) == 3
    m_old = merge_records([(0, old)])
    assert m_old.model_first == {}
    assert m_old.tops == merge_records([(0, rec)]).tops

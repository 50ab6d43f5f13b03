"""The merge rule as plain functions: merge_field, merge_change, conflicts, heads."""

from hypothesis import given, settings, strategies as st

from sync import merge
from sync.clock import encode

S1 = encode(1_000, 0, "phone-a")          # the first value
S2A = encode(2_000, 0, "phone-a")         # phone a's edit of S1
S2B = encode(2_000, 0, "phone-b")         # phone b's edit of S1, made without seeing S2A
S3 = encode(3_000, 0, "office")


def fold(writes, state=None, shown=None):
    """Fold (stamp, value, author, bases) writes into one field, in the order given."""
    for stamp, value, author, bases in writes:
        state, shown = merge.merge_field(state, shown, stamp, value, author, bases)
    return state, shown


def change(stamp, fields, author="w1", base=None, record="case-1"):
    ch = {"id": "c" + stamp, "entity": "case", "record": record, "fields": fields,
          "hlc": stamp, "device": stamp.split("-", 2)[2], "author": author}
    if base:
        ch["base"] = base
    return ch


def test_merge_field_shows_the_later_value_without_conflict_when_edits_are_sequential():
    state, shown = fold([(S1, "reported", "w1", []), (S2A, "accepted", "w2", [S1])])
    assert shown == "accepted"
    assert merge.conflicts({"status": state}) == []
    assert merge.heads({"status": state}, "status") == [S2A]


def test_merge_field_keeps_loser_as_conflict_when_edits_are_concurrent():
    state, shown = fold([(S1, "reported", "w1", []),
                         (S2A, "accepted", "w1", [S1]),
                         (S2B, "declined", "w2", [S1])])
    # The greater stamp wins (same millisecond: the node breaks the tie).
    assert shown == "declined"
    assert merge.conflicts({"status": state}) == [
        {"field": "status", "hlc": S2A, "value": "accepted", "author": "w1"}]
    assert sorted(merge.heads({"status": state}, "status")) == sorted([S2A, S2B])


def test_merge_field_winner_is_the_same_whichever_concurrent_edit_arrives_first():
    base = (S1, "reported", "w1", [])
    a, b = (S2A, "accepted", "w1", [S1]), (S2B, "declined", "w2", [S1])
    assert fold([base, a, b]) == fold([base, b, a]) == fold([b, a, base])


def test_merge_field_raises_no_conflict_when_descendant_arrives_before_its_base():
    state, shown = fold([(S2A, "accepted", "w1", [S1])])
    assert shown == "accepted"
    state, shown = fold([(S1, "reported", "w1", [])], state, shown)
    assert shown == "accepted"
    assert merge.conflicts({"status": state}) == []
    assert (state, shown) == fold([(S1, "reported", "w1", []), (S2A, "accepted", "w1", [S1])])


def test_merge_field_clears_conflict_when_resolution_names_all_heads():
    state, shown = fold([(S1, "reported", "w1", []),
                         (S2A, "accepted", "w1", [S1]),
                         (S2B, "declined", "w2", [S1])])
    heads = merge.heads({"status": state}, "status")
    state, shown = fold([(S3, "in_progress", "office", heads)], state, shown)
    assert shown == "in_progress"
    assert merge.conflicts({"status": state}) == []


def test_merge_field_keeps_conflict_when_a_later_edit_replaces_only_the_winner():
    state, shown = fold([(S1, "reported", "w1", []),
                         (S2A, "accepted", "w1", [S1]),
                         (S2B, "declined", "w2", [S1]),
                         (S3, "in_progress", "office", [S2B])])
    assert shown == "in_progress"
    assert [c["value"] for c in merge.conflicts({"status": state})] == ["accepted"]


def test_merge_field_is_unchanged_when_the_same_write_arrives_twice():
    once = fold([(S1, "reported", "w1", []), (S2A, "accepted", "w1", [S1])])
    assert fold([(S2A, "accepted", "w1", [S1])], *once) == once
    assert fold([(S1, "reported", "w1", [])], *once) == once


def test_merge_change_folds_each_field_and_keeps_untouched_fields():
    row, ver = merge.merge_change(None, {}, change(S1, {"status": "reported", "risk": "blue"}))
    row, ver = merge.merge_change(row, ver, change(S2A, {"risk": "red"}, base={"risk": [S1]}))
    assert row == {"id": "case-1", "status": "reported", "risk": "red"}
    assert merge.conflicts(ver) == []
    assert merge.heads(ver, "status") == [S1]
    assert merge.heads(ver, "title") == []


def test_merge_change_reports_conflicts_field_by_field():
    row, ver = merge.merge_change(None, {}, change(S1, {"status": "reported", "risk": "blue"}))
    row, ver = merge.merge_change(row, ver, change(S2A, {"status": "accepted", "risk": "red"},
                                                   base={"status": [S1], "risk": [S1]}))
    row, ver = merge.merge_change(row, ver, change(S2B, {"risk": "yellow"}, author="w2",
                                                   base={"risk": [S1]}))
    assert row["status"] == "accepted" and row["risk"] == "yellow"
    assert merge.conflicts(ver) == [{"field": "risk", "hlc": S2A, "value": "red", "author": "w1"}]


def test_merge_change_is_unchanged_when_the_same_change_arrives_twice():
    ch = change(S2A, {"status": "accepted"}, base={"status": [S1]})
    row, ver = merge.merge_change(None, {}, change(S1, {"status": "reported"}))
    once = merge.merge_change(row, ver, ch)
    assert merge.merge_change(*once, ch) == once


# --- property: the state is a function of the set of writes --------------------------

FIELDS = ("status", "risk")


@st.composite
def write_histories(draw):
    """Writes to one case, each with a greater stamp than any it names as a base (the
    clock guarantees that), bases drawn from earlier writes of the same field."""
    n = draw(st.integers(1, 8))
    out, written = [], {f: [] for f in FIELDS}
    for i in range(n):
        node = draw(st.sampled_from(["a", "b", "c"]))
        stamp = encode(1_000 + draw(st.integers(0, 2)) + 3 * i, draw(st.integers(0, 2)), node)
        fields = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2, unique=True))
        base = {}
        for f in fields:
            seen = draw(st.lists(st.sampled_from(written[f]), unique=True) if written[f] else st.just([]))
            if seen:
                base[f] = seen
        values = {f: draw(st.integers(0, 3)) for f in fields}
        out.append(change(stamp, values, author=node, base=base))
        for f in fields:
            written[f].append(stamp)
    return out


def fold_changes(chs):
    row, ver = None, {}
    for ch in chs:
        row, ver = merge.merge_change(row, ver, ch)
    return row, ver


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_merge_change_gives_the_same_state_for_any_arrival_order(data):
    history = data.draw(write_histories())
    shuffled = data.draw(st.permutations(history))
    twice = shuffled + data.draw(st.lists(st.sampled_from(history), max_size=3))
    assert fold_changes(shuffled) == fold_changes(history) == fold_changes(twice)
    assert merge.dumps(fold_changes(shuffled)[1]) == merge.dumps(fold_changes(history)[1])


@settings(max_examples=200, deadline=None)
@given(write_histories())
def test_merge_change_keeps_every_write_nobody_replaced_as_shown_value_or_conflict(history):
    row, ver = fold_changes(history)
    for f in FIELDS:
        writes = {ch["hlc"]: ch["fields"][f] for ch in history if f in ch["fields"]}
        replaced = {s for ch in history for s in ch.get("base", {}).get(f, [])}
        unreplaced = {s: v for s, v in writes.items() if s not in replaced}
        if not writes:
            assert f not in ver
            continue
        kept = {c["hlc"]: c["value"] for c in merge.conflicts(ver) if c["field"] == f}
        kept[ver[f][0]] = row[f]
        assert kept == unreplaced
        assert row[f] == unreplaced[max(unreplaced)]


# A version as stored: [stamp, author], or with the losing sides [stamp, author, value, losers].
_texts = st.text(alphabet=st.sampled_from('aé网"\\\n\x01 -0'), max_size=6)
_versions = st.dictionaries(
    st.text(alphabet="abcdefgh_", min_size=1, max_size=6),
    st.one_of(st.lists(st.sampled_from(["s1", "s2", 'q"\\网\n']), min_size=2, max_size=2).map(
                  lambda sa: [sa[0], "worker" if sa[1] == "s1" else sa[1]]),
              st.tuples(_texts, _texts, _texts, st.lists(_texts, max_size=2)).map(list)),
    max_size=8)


@settings(max_examples=400, deadline=None)
@given(_versions)
def test_stored_versions_read_back_whole_and_the_quick_way_writes_the_general_text(versions):
    """A record's versions are stored compactly (dumps); the usual record, written by one
    create, takes a quick way that must write exactly what the general way does, quotes,
    backslashes, control characters and Chinese included."""
    text = merge.dumps(versions)
    assert text == merge._grouped(versions)
    assert merge.loads(text) == versions
    shared = {name: ['1795801992888-00042-dev-x', '王"芳\\'] for name in ("b", "a", "c")}
    assert merge.dumps(shared) == '{"":["1795801992888-00042-dev-x","王\\"芳\\\\",["a","b","c"]]}'


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_restamping_a_phones_ahead_writes_gives_the_state_the_server_folds_from_them(data):
    """A phone whose date was ahead stamps its unsent writes again (DeviceReplica.
    _restamp_ahead): its tables, restamped, must be what folding the restamped writes
    gives, which is what the server holds once they land."""
    history = data.draw(write_histories())
    written = {f: [ch["hlc"] for ch in history if f in ch["fields"]] for f in FIELDS}
    ahead, mapped, stamps = [], [], {}
    for i in range(data.draw(st.integers(1, 4))):
        old, new = encode(9_000_000 + i, 0, "p"), encode(5_000_000 + i, 0, "p")
        fields = data.draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2, unique=True))
        base = {}
        for f in fields:
            seen = data.draw(st.lists(st.sampled_from(written[f]), unique=True) if written[f] else st.just([]))
            if seen:
                base[f] = seen
        values = {f: data.draw(st.integers(0, 3)) for f in fields}
        ahead.append(change(old, values, author="p", base=base))
        stamps[old] = new
        mapped.append(change(new, values, author="p",
                             base={f: [stamps.get(s, s) for s in seen] for f, seen in base.items()}))
        for f in fields:
            written[f].append(old)
    row, ver = fold_changes(history + ahead)
    assert (row, merge.restamp(ver, stamps)) == fold_changes(history + mapped)

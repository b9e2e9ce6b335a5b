"""JSON from outside is bounded before Python's parser sees it: its nesting is counted
exactly without recursion, and no document crashes or exhausts the stack."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dain.storage import CodecError, nesting_depth, parse_json

tricky_text = st.text(alphabet='[]{}"\\ ab', max_size=12)  # brackets and escapes in strings
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=60,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(values, st.booleans())
def test_nesting_is_counted_exactly(value: object, ascii_only: bool) -> None:
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    depth = _depth(value)
    if data.count(b"[") + data.count(b"{") > 32:  # the exact count, not the quick bound
        assert nesting_depth(data) == depth
    else:
        assert nesting_depth(data) >= depth


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40))
def test_deep_nesting_is_refused_and_shallow_taken(levels: int) -> None:
    document = b"[" * levels + b"]" * levels
    if levels <= 32:
        assert _depth(parse_json(document, max_bytes=1000)) == levels
    else:
        with pytest.raises(CodecError, match="nests"):
            parse_json(document, max_bytes=1000)


def test_documents_that_crashed_a_node_are_refused() -> None:
    with pytest.raises(CodecError, match="95000 levels"):  # overflowed the C parser's stack
        parse_json(b"[" * 95_000 + b"]" * 95_000, max_bytes=2**20)
    with pytest.raises(CodecError, match="cannot be read"):
        parse_json(b"[" + b"9" * 20_000 + b"]", max_bytes=2**20)
    with pytest.raises(CodecError, match="at most 10"):
        parse_json(b"[1, 2, 3, 4]", max_bytes=10)
    with pytest.raises(CodecError, match="not JSON"):
        parse_json(b"\xff\xfe[", max_bytes=10)
    assert parse_json(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', max_bytes=100) == {
        "a": "[" * 34
    }

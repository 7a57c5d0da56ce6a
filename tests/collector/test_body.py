"""Request bodies are inflated as a stream with a capped output: bombs never inflate."""

from __future__ import annotations

import gzip
import zlib

import pytest

from pigeon.collector._body import _GZIP, _ZLIB, _Inflater
from pigeon.collector._config import MAX_REQUEST_BYTES
from pigeon.collector._errors import ApiError


def chunks(data: bytes, size: int = 8192) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_a_bomb_is_refused_with_bounded_output() -> None:
    bomb = gzip.compress(bytes(1 << 20), 9) * 1024  # 1 GiB of zeros in 1024 gzip members
    inflater = _Inflater(_GZIP, MAX_REQUEST_BYTES)
    fed = 0
    refused: ApiError | None = None
    for chunk in chunks(bomb):
        fed += len(chunk)
        try:
            inflater.feed(chunk)
        except ApiError as exc:
            refused = exc
            break
    assert refused is not None
    assert refused.status == 413
    assert len(inflater.out) <= MAX_REQUEST_BYTES + 1  # never more than the cap in memory
    assert fed < len(bomb) // 100  # refused after reading a sliver of the compressed body


def test_valid_streams_come_out_whole() -> None:
    data = b'{"batch": []}' * 1000
    for wbits, packed in ((_GZIP, gzip.compress(data)), (_ZLIB, zlib.compress(data))):
        inflater = _Inflater(wbits, MAX_REQUEST_BYTES)
        for chunk in chunks(packed, 7):
            inflater.feed(chunk)
        assert inflater.finish() == data
    two_members = gzip.compress(b"abc") + gzip.compress(b"def")
    inflater = _Inflater(_GZIP, MAX_REQUEST_BYTES)
    inflater.feed(two_members)
    assert inflater.finish() == b"abcdef"


def test_exactly_the_cap_is_accepted_and_one_more_byte_is_not() -> None:
    inflater = _Inflater(_GZIP, 1000)
    inflater.feed(gzip.compress(bytes(1000)))
    assert len(inflater.finish()) == 1000
    with pytest.raises(ApiError) as refused:
        _Inflater(_GZIP, 1000).feed(gzip.compress(bytes(1001)))
    assert refused.value.status == 413


def test_corrupt_and_truncated_streams_are_400() -> None:
    with pytest.raises(ApiError) as corrupt:
        _Inflater(_GZIP, 1000).feed(b"\x1f\x8b\x08\x00garbage-garbage")
    assert (corrupt.value.status, corrupt.value.code) == (400, "bad_encoding")
    truncated = _Inflater(_GZIP, 1000)
    truncated.feed(gzip.compress(b"hello world" * 10)[:-10])
    with pytest.raises(ApiError) as cut:
        truncated.finish()
    assert cut.value.details == [("body", "the compressed body is truncated")]

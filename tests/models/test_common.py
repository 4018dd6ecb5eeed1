"""models.common: data reading and format checks, the holdout split, the samples."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from models.common import (
    FEATURES,
    SAMPLE_INPUTS,
    DataError,
    holdout_split,
    load_games,
    parse_games_csv,
    source_label,
)

HEADER = ",".join(f'"{c}"' for c in (*FEATURES, "label"))


def _csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def test_reads_the_shared_csv(data_csv: Path) -> None:
    data = load_games(str(data_csv))
    assert data.x.shape == (22905, 10) and data.x.dtype == np.float64
    assert set(np.unique(data.x)) == {0.0, 1.0} and set(np.unique(data.y)) == {0, 1}
    assert len(data.sha256) == 64


def test_parses_a_small_csv() -> None:
    data = parse_games_csv(_csv("1,0,0,0,0,0,0,0,0,0,1", "0,0,0,0,0,0,0,0,0,1,0"), "t.csv")
    assert data.x.tolist() == [[1] + [0] * 9, [0] * 9 + [1]]
    assert data.y.tolist() == [1, 0]


def test_missing_column_is_named() -> None:
    raw = b'"G1","G2","G3","G4","G5","G6","G7","G8","G9","label"\n1,0,0,0,0,0,0,0,0,1\n'
    with pytest.raises(DataError, match="missing column.*G10"):
        parse_games_csv(raw, "t.csv")


def test_non_binary_value_names_column_and_line() -> None:
    with pytest.raises(DataError, match=r"column G3, line 3: expected 0 or 1, got '2'"):
        parse_games_csv(_csv("1,0,0,0,0,0,0,0,0,0,1", "0,0,2,0,0,0,0,0,0,0,0"), "t.csv")
    with pytest.raises(DataError, match=r"column label, line 2: expected 0 or 1, got 'yes'"):
        parse_games_csv(_csv("1,0,0,0,0,0,0,0,0,0,yes"), "t.csv")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty file"),
        (_csv(), "no data rows"),
        (_csv("1,0,0"), "line 2 has 3 fields"),
        (_csv("1,0,0,0,0,0,0,0,0,0,1"), "single class"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_other_format_errors(raw: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_games_csv(raw, "t.csv")


def test_missing_file_suggests_data_flag(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--data PATH"):
        load_games(str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="unsupported data source"):
        load_games("ftp://example.com/x.csv")


def test_unreachable_url_suggests_data_flag() -> None:
    # A port on 127.0.0.1 that was free a moment ago: connection refused, no network involved.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match=r"could not download .*--data PATH"):
        load_games(f"http://127.0.0.1:{port}/games-expand.csv")


def test_holdout_split_is_deterministic_and_disjoint() -> None:
    tr, ho = holdout_split(22905)
    tr2, ho2 = holdout_split(22905)
    assert np.array_equal(tr, tr2) and np.array_equal(ho, ho2)
    assert len(ho) == 4581 and len(tr) == 22905 - 4581
    assert not set(tr) & set(ho) and set(tr) | set(ho) == set(range(22905))
    assert not np.array_equal(holdout_split(22905, seed=1)[1], ho)


def test_samples_start_with_the_book_request() -> None:
    assert SAMPLE_INPUTS[0] == {f: int(f == "G1") for f in FEATURES}
    assert len({tuple(s.values()) for s in SAMPLE_INPUTS}) == len(SAMPLE_INPUTS) >= 3


def test_source_label_keeps_nothing_machine_specific() -> None:
    assert source_label("/home/me/data/games-expand.csv") == "games-expand.csv"
    assert source_label("https://example.com/g.csv") == "https://example.com/g.csv"

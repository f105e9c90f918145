"""The censorship metrics document: the node's writer and the report's reader agree on one
schema, and the percentile helper every report uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sequencer_net.censorship import CensorshipStats
from sequencer_net.censorship import metrics as m
from sequencer_net.genesis import ChainParams
from sequencer_net.percentiles import percentile, summary

NAMES = {b"\x01" * 32: "n1", b"\x02" * 32: "n2"}


def busy_stats() -> CensorshipStats:
    stats = CensorshipStats()
    for heights, ms in ((1, 30), (2, 45), (4, 300)):
        stats.record_inclusion(heights, ms)
    stats.proposers[b"\x02" * 32].proposals = 5
    stats.proposers[b"\x01" * 32].overdue_omitted = 2
    stats.proposers[b"\x09" * 32].failed_rounds = 1  # a key the node has no name for
    stats.inclusion_nil_prevotes = 2
    return stats


def test_what_the_node_writes_the_report_reads(tmp_path: Path) -> None:
    params = ChainParams(inclusion_deadline=4, inclusion_grace_ms=70)
    document = m.document(params, busy_stats(), NAMES, [b"\x01" * 32])
    written = m.write(tmp_path, document)
    assert written == tmp_path / m.FILENAME and not written.with_suffix(".tmp").exists()
    read = m.read(written)
    assert read == document
    assert read["inclusion_deadline"] == 4 and read["inclusion_grace_ms"] == 70
    assert read["inclusion_delay"] == {
        "count": 3,
        "heights": {"p50": 2, "p99": 4, "max": 4},
        "ms": {"p50": 45, "p99": 300, "max": 300},
    }
    assert list(read["proposers"]) == sorted(["n1", "n2", "09" * 6])
    assert read["proposers"]["n1"] == {"proposals": 0, "failed_rounds": 0, "overdue_omitted": 2}
    assert read["excluded_proposers"] == ["n1"]


def test_a_node_that_included_nothing_yet_writes_a_readable_document(tmp_path: Path) -> None:
    document = m.document(ChainParams(), CensorshipStats(), NAMES, [])
    assert document["inclusion_delay"]["ms"] == {"p50": None, "p99": None, "max": None}
    assert m.read(m.write(tmp_path, document)) == document


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{", "not valid JSON"),
        ("[]", "malformed censorship metrics: expected an object"),
    ],
)
def test_a_bad_file_is_one_error_naming_it(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / m.FILENAME
    path.write_text(content)
    with pytest.raises(m.MetricsError, match=problem) as error:
        m.read(path)
    assert str(path) in str(error.value)


def test_a_document_missing_a_count_is_refused() -> None:
    document = json.loads(json.dumps(m.document(ChainParams(), busy_stats(), NAMES, [])))
    del document["proposers"]["n2"]["failed_rounds"]
    with pytest.raises(m.MetricsError, match=r"proposers\.n2 must hold integers"):
        m.checked(document, "n3 (live)")


def test_percentiles() -> None:
    assert percentile([], 0.5) is None
    assert summary([]) == {"p50": None, "p99": None, "max": None}
    assert summary([5]) == {"p50": 5, "p99": 5, "max": 5}
    ordered = list(range(1, 102))  # 1..101: rank round(q * 100)
    assert percentile(ordered, 0.5) == 51 and percentile(ordered, 0.99) == 100
    assert summary([3.14159, 1.0, 2.0]) == {"p50": 2.0, "p99": 3.1, "max": 3.1}

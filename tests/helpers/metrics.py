"""Scraping a node's Prometheus endpoint the way Prometheus does (HTTP GET /metrics) and
reading it back with prometheus_client's own parser; the series every node must expose."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trio
from prometheus_client.parser import text_string_to_metric_families

from sequencer_net.client import parse_address
from sequencer_net.config import load_node_config

P = "sequencer_net_"
# Every series a node exposes from its start (labelled ones per label value), by sample name.
SERIES = [
    f"{P}consensus_height",
    f"{P}consensus_round",
    f"{P}consensus_rounds",
    f"{P}consensus_failed_rounds_total",
    f"{P}consensus_round_duration_seconds_count",
    f"{P}consensus_step_duration_seconds_count",
    f"{P}consensus_batch_interval_seconds_count",
    f"{P}consensus_committed_txs_total",
    f"{P}consensus_batch_size_txs_sum",
    f"{P}consensus_batch_size_bytes_sum",
    f"{P}mempool_size",
    f"{P}mempool_size_bytes",
    f"{P}p2p_peers",
    f"{P}p2p_peers_heard",
    f"{P}consensus_validators",
    f"{P}consensus_validators_power",
    f"{P}consensus_validator_power",
    f"{P}consensus_validator_jailed",
    f"{P}consensus_missing_validators",
    f"{P}consensus_missing_validators_power",
    f"{P}consensus_byzantine_validators",
    f"{P}consensus_byzantine_validators_power",
    f"{P}consensus_evidence_found_total",
    f"{P}consensus_evidence_committed_total",
    f"{P}consensus_slashes_total",
    f"{P}censorship_proposer_proposals_total",
    f"{P}censorship_proposer_failed_rounds_total",
    f"{P}censorship_proposer_overdue_omitted_total",
    f"{P}consensus_nil_prevotes_total",
    f"{P}censorship_inclusion_delay_seconds_count",
    f"{P}censorship_inclusion_delay_heights_count",
    f"{P}reputation_skipped_proposers",
    f"{P}reputation_proposer_skipped",
    f"{P}consensus_last_commit_age_seconds",
]
NIL_REASONS = {"timeout", "inclusion", "invalid", "locked"}
STEPS = {"propose", "prevote", "precommit"}


@dataclass(frozen=True)
class Scrape:
    """One scrape: every sample as (name, sorted labels) -> value."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]

    @property
    def names(self) -> set[str]:
        return {name for name, _ in self.samples}

    def value(self, name: str, **labels: str) -> float:
        """The one sample of ``name`` whose labels include ``labels``."""
        found = [
            v
            for (n, have), v in self.samples.items()
            if n == name and set(labels.items()) <= set(have)
        ]
        assert len(found) == 1, (name, labels, found)
        return found[0]

    def labels(self, name: str, label: str) -> set[str]:
        """Every value ``label`` takes among the samples of ``name``."""
        return {dict(have)[label] for n, have in self.samples if n == name and label in dict(have)}


def parse(text: str) -> Scrape:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return Scrape(samples)


async def get(address: str, path: str = "/metrics", method: str = "GET") -> tuple[int, bytes]:
    """Status code and body of one HTTP/1.1 request to a loopback ``address``."""
    host, port = parse_address(address)
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            request = f"{method} {path} HTTP/1.1\r\nHost: {address}\r\n\r\n"
            await stream.send_all(request.encode())
            answer = b""
            while chunk := await stream.receive_some(65536):
                answer += chunk
    assert answer, f"{address} closed the connection without an answer"
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def scrape(address: str) -> Scrape:
    status, body = await get(address)
    assert status == 200, (status, body[:200])
    return parse(body.decode())


def metrics_address(root: Path, name: str) -> str:
    address = load_node_config(root / name / "node.toml").metrics_address
    assert address is not None, f"{name} has no metrics_address"
    return address

"""`namespace verify` with no node: exit 0 for a proof that verifies, 1 for any tampering or
a file that is not a proof, 2 for a file or genesis it cannot read; never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.nsproofs import GENESIS, build_chain

from sequencer_net.cli import main
from sequencer_net.commands.namespace import proof_document
from sequencer_net.config import Addresses, write_genesis
from sequencer_net.genesis import Genesis


def genesis_file(tmp_path: Path, genesis: Genesis = GENESIS) -> Path:
    path = tmp_path / f"{genesis.chain_id}.toml"
    addresses = {
        v.name: Addresses(f"127.0.0.1:{20_000 + 2 * i}", f"127.0.0.1:{20_001 + 2 * i}")
        for i, v in enumerate(genesis.validators)
    }
    write_genesis(path, genesis, addresses)
    return path


@pytest.fixture
def proof_file(tmp_path: Path) -> Path:
    chain = build_chain(5)
    height = next(h for h, e in chain.entries.items() if e.chunks)
    namespace = chain.namespace_of(chain.entries[height].chunks[0].txs[0])
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof_document(chain.proof(namespace, height))))
    return path


def verify(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main(["namespace", "verify", *map(str, argv)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_a_proof_verifies_with_the_genesis_file_alone(
    tmp_path: Path, proof_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    genesis = genesis_file(tmp_path)
    code, out, _ = verify(capsys, proof_file, "--genesis", genesis, "--json")
    assert code == 0 and json.loads(out)["verified"] is True
    code, out, _ = verify(capsys, proof_file, "--genesis", genesis)
    assert code == 0 and "verified" in out


def test_tampering_and_non_proofs_exit_1(
    tmp_path: Path, proof_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    genesis = genesis_file(tmp_path)
    document = json.loads(proof_file.read_text())
    bad = tmp_path / "bad.json"
    hexed = document["proof"]
    cases = [
        dict(document, height=document["height"] + 1),  # the names outside lie
        dict(document, proof=hexed[:-2]),  # cut short
        dict(document, proof=hexed[:40] + ("0" if hexed[40] != "0" else "1") + hexed[41:]),
        dict(document, format="something-else"),
    ]
    for case in cases:
        bad.write_text(json.dumps(case))
        assert verify(capsys, bad, "--genesis", genesis)[0] == 1, case
    bad.write_text("not json at all")
    assert verify(capsys, bad, "--genesis", genesis)[0] == 1
    # Another chain's genesis (same validators, another chain id) does not accept it.
    other = genesis_file(
        tmp_path, Genesis("another", GENESIS.validators, namespaces=GENESIS.namespaces)
    )
    code, _, err = verify(capsys, proof_file, "--genesis", other)
    assert code == 1 and "chain" in err


def test_unreadable_inputs_are_usage_errors(
    tmp_path: Path, proof_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    genesis = genesis_file(tmp_path)
    assert verify(capsys, tmp_path / "missing.json", "--genesis", genesis)[0] == 2
    assert verify(capsys, proof_file, "--genesis", tmp_path / "missing.toml")[0] == 2
    assert main(["namespace", "verify", str(proof_file)]) == 2  # --genesis is required

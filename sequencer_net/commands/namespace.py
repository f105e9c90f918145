"""`sequencer-net namespace show|verify|follow`: one rollup's transactions with proofs.

``show`` asks a node for the proof of (namespace, height) and can write it to a file;
``verify`` checks such a file against a genesis file with no node at all; ``follow`` streams
each committed height's transactions of one namespace, each proof checked on arrival. The
proof format is docs/namespaces.md's.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Failure, UsageError
from .target import add_dir_option, client_targets, cluster_dir

if TYPE_CHECKING:
    from ..genesis import Genesis
    from ..nsproof import NamespaceProof, Verified

FORMAT = "sequencer-net/namespace-proof/1"
POLL_S = 0.2


def add_namespace_commands(commands: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--node", help="client address HOST:PORT or node name (default: first node)"
    )
    add_dir_option(common)
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")

    ns = commands.add_parser(
        "namespace",
        help="one rollup's transactions per height, with proofs anyone can check offline",
        description="Every batch header commits to a table of the namespaces it carries. "
        "These commands give one namespace's transactions at a height with a proof (header, "
        "commit certificate, table entry and Merkle path, the transactions; or the sorted "
        "neighbours for a namespace absent there) and check such proofs with the genesis "
        "file alone. Format: docs/namespaces.md.",
    )
    sub = ns.add_subparsers(dest="namespace_command", metavar="ACTION", required=True)
    common.add_argument(
        "--genesis",
        type=Path,
        metavar="G",
        help="genesis.toml to check the node's proofs against (default: the cluster dir's)",
    )
    p = sub.add_parser("show", parents=[common], help="a namespace's transactions at a height")
    p.add_argument("namespace", metavar="NS")
    p.add_argument("height", type=int, metavar="HEIGHT")
    p.add_argument("--proof", type=Path, metavar="FILE", help="write the proof to FILE")
    p.set_defaults(run=_show)

    p = sub.add_parser(
        "verify",
        help="check a proof file against a genesis file, with no node",
        description="Check FILE (written by `namespace show --proof`) against the genesis "
        "validator set and the slashings the proof carries. Exit 0 if it verifies, 1 on any "
        "tampering or a file that is not a proof, 2 if FILE or GENESIS cannot be read.",
    )
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--genesis", type=Path, required=True, metavar="G", help="genesis.toml")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_verify)

    p = sub.add_parser(
        "follow",
        parents=[common],
        help="stream each committed height's transactions of a namespace, with proofs",
        description="From --from (default: the next height to commit) on, print one record "
        "per committed height: the namespace's transactions and, with --json, the proof. "
        "Each proof is verified against the cluster's genesis before it is printed; a "
        "transaction an earlier followed height committed is left out. Stops after "
        "--heights heights or --duration seconds (or Ctrl-C).",
    )
    p.add_argument("namespace", metavar="NS")
    p.add_argument("--from", dest="from_height", type=int, metavar="H", help="first height")
    p.add_argument("--heights", type=int, metavar="N", help="stop after N heights")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.set_defaults(run=_follow)


# ---- the file format ------------------------------------------------------------------------


def proof_document(proof: NamespaceProof) -> dict[str, Any]:
    """What `show --proof` writes: the canonical encoding, named for people."""
    from .. import codec

    return {
        "format": FORMAT,
        "chain_id": proof.header.chain_id,
        "namespace": proof.namespace,
        "height": proof.height,
        "proof": codec.encode(proof).hex(),
    }


def read_proof(path: Path) -> NamespaceProof:
    """The proof in ``path``; :class:`Failure` for anything that is not one (tampering)."""
    from .. import codec
    from ..nsproof import NamespaceProof

    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        if set(document) != {"format", "chain_id", "namespace", "height", "proof"}:
            raise ValueError("unexpected or missing fields")
        proof = codec.decode(bytes.fromhex(document["proof"]), NamespaceProof)
        assert isinstance(proof, NamespaceProof)
    except (ValueError, TypeError, AttributeError) as exc:
        raise Failure(f"{path}: not a namespace proof: {exc}") from None
    except RecursionError:  # json parses nested arrays and objects by recursion
        raise Failure(f"{path}: not a namespace proof: nested too deeply") from None
    named = (document["chain_id"], document["namespace"], document["height"])
    if named != (proof.header.chain_id, proof.namespace, proof.height):
        raise Failure(f"{path}: the names outside the proof do not match the proof (tampered)")
    return proof


def _load_genesis(path: Path) -> Genesis:
    from ..config import ConfigError, load_genesis

    try:
        return load_genesis(path).genesis
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None


def _check(proof: NamespaceProof, genesis: Genesis, where: str) -> Verified:
    from ..nsproof import ProofError, verify_proof

    try:
        return verify_proof(proof, genesis)
    except ProofError as exc:
        raise Failure(f"{where}: proof does not verify: {exc}") from None


def _verified_json(result: Verified, with_txs: bool = True) -> dict[str, Any]:
    from ..types import tx_id

    answer: dict[str, Any] = {
        "verified": True,
        "namespace": result.namespace,
        "namespace_id": result.ns_id,
        "height": result.height,
        "present": result.present,
        "tx_count": len(result.txs),
        "repeats": result.repeats,
        "batch_id": result.header.id.hex(),
        "namespaces_root": result.header.namespaces_root.hex(),
        "tx_ids": [tx_id(tx).hex() for tx in result.txs],
    }
    if with_txs:
        answer["txs"] = [tx.hex() for tx in result.txs]
    return answer


def _describe_txs(result: Verified, markup: bool = True) -> str:
    from rich.markup import escape as rich_escape

    from .. import codec
    from ..types import Tx

    lines = []
    for i, encoded in enumerate(result.txs):
        tx = codec.decode(encoded, Tx)
        try:
            payload = tx.payload.decode()
        except UnicodeDecodeError:
            payload = tx.payload.hex()
        short = payload if len(payload) <= 48 else payload[:45] + "..."
        escape = rich_escape if markup else str
        lines.append(f"  {i:>4}  {tx.id.hex()[:16]}  {escape(tx.sender)}  {escape(short)}")
    return "\n".join(lines)


# ---- the commands ---------------------------------------------------------------------------


def _fetch(address: str, namespace: str, height: int) -> dict[str, Any] | None:
    from .client import _call

    answer: dict[str, Any] | None = _call(
        address, "namespace_proof", namespace=namespace, height=height
    )
    return answer


def _decode_answer(answer: dict[str, Any]) -> NamespaceProof:
    from .. import codec
    from ..nsproof import NamespaceProof

    try:
        proof = codec.decode(answer["proof"], NamespaceProof)
    except (codec.DecodeError, KeyError, TypeError) as exc:
        raise Failure(f"the node answered something that is not a proof: {exc}") from None
    assert isinstance(proof, NamespaceProof)
    return proof


def _show(args: argparse.Namespace) -> int:
    if args.height < 1:
        raise UsageError(f"height must be 1 or more, got {args.height}")
    [(name, address)] = client_targets(args.node, args.dir).items()
    answer = _fetch(address, args.namespace, args.height)
    if answer is None:
        raise Failure(f"height {args.height} is not committed yet")
    proof = _decode_answer(answer)
    genesis = _load_genesis(_genesis_path(args))
    result = _check(proof, genesis, f"{name}'s proof")
    if args.proof is not None:
        try:
            args.proof.write_text(json.dumps(proof_document(proof), indent=1) + "\n")
        except OSError as exc:
            raise UsageError(f"{args.proof}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(_verified_json(result)))
        return 0
    from rich.console import Console

    what = f"{len(result.txs)} transaction(s)" if result.present else "no transactions (absent)"
    lines = [f"{args.namespace} at height {args.height}: {what}, proof verified"]
    if result.present:
        lines.append(_describe_txs(result))
    if args.proof is not None:
        lines.append(f"proof written to {args.proof}")
    Console().print("\n".join(lines))
    return 0


def _genesis_path(args: argparse.Namespace) -> Path:
    from ..cluster.layout import Layout

    if args.genesis is not None:
        return Path(args.genesis)
    root = cluster_dir(
        args.dir,
        "no cluster given: pass --dir or --genesis (to check the node's proofs)",
    )
    return Layout(root).genesis


def _verify(args: argparse.Namespace) -> int:
    genesis = _load_genesis(args.genesis)
    proof = read_proof(args.file)
    result = _check(proof, genesis, str(args.file))
    if args.json:
        print(json.dumps(_verified_json(result)))
        return 0
    what = f"{len(result.txs)} transaction(s)" if result.present else "absent (no transactions)"
    print(
        f"{args.file}: verified: namespace {result.namespace!r} at height {result.height} "
        f"of chain {genesis.chain_id!r}: {what}"
    )
    return 0


def _follow(args: argparse.Namespace) -> int:
    import trio

    from ..client import Client
    from ..types import tx_id
    from .client import _run

    if args.heights is not None and args.heights < 1:
        raise UsageError(f"--heights must be 1 or more, got {args.heights}")
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be positive, got {args.duration:g}")
    if args.from_height is not None and args.from_height < 1:
        raise UsageError(f"--from must be 1 or more, got {args.from_height}")
    [(name, address)] = client_targets(args.node, args.dir).items()
    genesis = _load_genesis(_genesis_path(args))
    deadline = None if args.duration is None else time.monotonic() + args.duration

    async def follow() -> int:
        seen: set[bytes] = set()
        done = 0
        async with await Client.connect(address) as client:
            height = args.from_height or (await client.call("status"))["height"]
            while args.heights is None or done < args.heights:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                answer = await client.namespace_proof(args.namespace, height)
                if answer is None:
                    await trio.sleep(POLL_S)
                    continue
                proof = _decode_answer(answer)
                result = _check(proof, genesis, f"{name}'s proof of height {height}")
                fresh = [tx for tx in result.txs if tx_id(tx) not in seen]
                seen.update(tx_id(tx) for tx in fresh)
                _emit(args, result, fresh, proof)
                height += 1
                done += 1
        return done

    _run(follow)
    return 0


def _emit(
    args: argparse.Namespace, result: Verified, fresh: list[bytes], proof: NamespaceProof
) -> None:
    from dataclasses import replace

    if args.json:
        record = _verified_json(replace(result, txs=tuple(fresh)))
        record["proof"] = proof_document(proof)["proof"]
        print(json.dumps(record), flush=True)
        return
    print(f"height {result.height}: {len(fresh)} transaction(s), proof verified", flush=True)
    if fresh:
        print(_describe_txs(replace(result, txs=tuple(fresh)), markup=False), flush=True)

"""genesis.toml: the validator set, timeouts and chain rules, plus where each validator listens.

Every node must read exactly the same file; the loader checks it whole (names, keys and
addresses unique; addresses are what peers and clients dial, an IP address or a hostname, never
a wildcard) and the writer spells out every value so nodes cannot disagree on a default. Where
a node binds is node.toml's business (``peer_listen``, ``client_listen``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import tomli_w

from ..genesis import Genesis
from ..validators import MAX_TOTAL_POWER, Validator
from . import schema, sections
from .schema import Endpoint


class Addresses(NamedTuple):
    """Where one validator listens: ``peer`` for other validators, ``client`` for clients."""

    peer: str
    client: str


class Endpoints(NamedTuple):
    """The same two addresses parsed, for binding and dialling."""

    peer: Endpoint
    client: Endpoint


@dataclass(frozen=True)
class GenesisFile:
    """A loaded genesis.toml: the consensus-relevant :class:`Genesis` plus where each
    validator listens (addresses are not part of consensus, so Genesis does not hold them).
    ``addresses`` keeps them as written, for people and clients; ``endpoints`` parsed."""

    path: Path
    genesis: Genesis
    addresses: dict[str, Addresses]
    endpoints: dict[str, Endpoints]


def load_genesis(path: Path | str) -> GenesisFile:
    """Load and check genesis.toml: every node must read exactly the same validator set."""
    path = Path(path)
    top = schema.load_table(path)
    top.only(["chain_id", "timeouts", "chain", "namespaces", "validators", "private"])
    chain_id = top.string("chain_id")
    if not 1 <= len(chain_id) <= 64:
        raise top.error("chain_id", f"must be 1..64 characters, got {len(chain_id)}")
    timeouts = sections.timeouts(top.table("timeouts"))
    params = sections.chain_params(top.table("chain"))
    namespaces = sections.namespaces(top)
    entries = top.tables("validators")
    if not entries:
        raise top.error("validators", "at least one [[validators]] entry is needed")
    validators: list[Validator] = []
    addresses: dict[str, Addresses] = {}
    endpoints: dict[str, Endpoints] = {}
    names: dict[object, str] = {}
    keys: dict[object, str] = {}
    ports: dict[object, str] = {}
    for entry in entries:
        entry.only(["name", "public_key", "power", "address", "client_address"])
        name = schema.name(entry, "name")
        schema.refuse_duplicate(entry, "name", name, names)
        public_key = schema.public_key(entry, "public_key")
        schema.refuse_duplicate(entry, "public_key", public_key, keys)
        power = entry.integer("power")
        if not 0 < power <= MAX_TOTAL_POWER - sum(v.power for v in validators):
            raise entry.error(
                "power",
                f"must be a positive integer, all of them adding up to 2**60 at most, got {power}",
            )
        peer = schema.address(entry, "address")
        schema.refuse_duplicate(entry, "address", peer, ports)
        client = schema.address(entry, "client_address")
        schema.refuse_duplicate(entry, "client_address", client, ports)
        validators.append(Validator(name, public_key, power))
        addresses[name] = Addresses(entry.string("address"), entry.string("client_address"))
        endpoints[name] = Endpoints(peer, client)
    private = None
    if "private" in top.data:
        from .private_section import load_private

        private = load_private(top.table("private"), validators)
    genesis = Genesis(chain_id, tuple(validators), timeouts, params, namespaces, private)
    return GenesisFile(path.resolve(), genesis, addresses, endpoints)


def write_genesis(path: Path, genesis: Genesis, addresses: Mapping[str, Addresses]) -> None:
    """Write genesis.toml with every timeout spelled out, so nodes cannot disagree on defaults."""
    document = {
        "chain_id": genesis.chain_id,
        "timeouts": asdict(genesis.timeouts),
        "chain": sections.chain_document(genesis.params),
        **(
            {"namespaces": sections.namespaces_document(genesis.namespaces)}
            if genesis.namespaces
            else {}
        ),
        "validators": [
            {
                "name": v.name,
                "public_key": v.public_key.hex(),
                "power": v.power,
                "address": addresses[v.name].peer,
                "client_address": addresses[v.name].client,
            }
            for v in genesis.validators
        ],
    }
    if genesis.private is not None:
        from .private_section import private_document

        document["private"] = private_document(genesis.private, genesis.validators)
    path.write_text(tomli_w.dumps(document))

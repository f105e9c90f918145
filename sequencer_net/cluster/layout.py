"""Where things live in a cluster dir, in one place so every module agrees.

DIR/genesis.toml        shared by every node
DIR/admin_token         the secret the admin API (fault injection) asks for, mode 0600
DIR/cluster.json        pids of the running nodes (written by `up`, `restart`, `down`)
DIR/origin.json         the spec file (or --nodes flags) the dir was made from
DIR/prometheus.yml      a Prometheus scrape config with every node's metrics address
DIR/nK/node.toml        one node's config (paths relative to nK/)
DIR/nK/key              its Ed25519 seed, hex, mode 0600
DIR/nK/threshold_share  its threshold decryption shares, mode 0600 (with [private])
DIR/nK/data/            its chain, sign state and logs
DIR/nK/node.out         its stdout and stderr, appended across restarts
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def genesis(self) -> Path:
        return self.root / "genesis.toml"

    @property
    def admin_token(self) -> Path:
        return self.root / "admin_token"

    @property
    def state(self) -> Path:
        return self.root / "cluster.json"

    @property
    def origin(self) -> Path:
        return self.root / "origin.json"

    @property
    def prometheus(self) -> Path:
        return self.root / "prometheus.yml"

    @property
    def kills(self) -> Path:
        """When `cluster kill` and `cluster restart` killed which node (``kills``)."""
        return self.root / "kills.jsonl"

    @property
    def lock(self) -> Path:
        """Held while cluster.json is read, acted on and rewritten, so two commands run at
        once (say `kill n1` and `restart n2`) cannot lose each other's pids."""
        return self.root / ".cluster.lock"

    def node_dir(self, name: str) -> Path:
        return self.root / name

    def node_config(self, name: str) -> Path:
        return self.node_dir(name) / "node.toml"

    def key(self, name: str) -> Path:
        return self.node_dir(name) / "key"

    def data(self, name: str) -> Path:
        return self.node_dir(name) / "data"

    def output(self, name: str) -> Path:
        return self.node_dir(name) / "node.out"

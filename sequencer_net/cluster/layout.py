"""Where things live in a cluster dir, in one place so every module agrees.

DIR/genesis.toml        shared by every node
DIR/cluster.json        pids of the running nodes (written by `up`, `restart`, `down`)
DIR/origin.json         the spec file (or --nodes flags) the dir was made from
DIR/prometheus.yml      a Prometheus scrape config with every node's metrics address
DIR/nK/node.toml        one node's config (paths relative to nK/)
DIR/nK/key              its Ed25519 seed, hex, mode 0600
DIR/nK/admin_token      the secret its admin API (fault injection) asks for, mode 0600
DIR/nK/threshold_share  its threshold decryption shares, mode 0600 (with [private])
DIR/nK/data/            its chain, sign state and logs
DIR/nK/node.out         its stdout and stderr, appended across restarts
DIR/bundles/HOST/       with hosts: what to copy to HOST (genesis, its nodes' dirs)
DIR/compose.yaml, DIR/Dockerfile, DIR/systemd/   with --deploy (in each bundle with hosts)
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
    def bundles(self) -> Path:
        return self.root / "bundles"

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

    def admin_token(self, name: str) -> Path:
        return self.node_dir(name) / "admin_token"

    def data(self, name: str) -> Path:
        return self.node_dir(name) / "data"

    def output(self, name: str) -> Path:
        return self.node_dir(name) / "node.out"

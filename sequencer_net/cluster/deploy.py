"""Deploy files for engines operators already run (`cluster init --deploy compose|systemd`):
a compose.yaml and a Dockerfile, or one systemd unit per node. Restarting a node that died is
the engine's job; sequencer-net has no supervisor of its own.

Written by hand rather than with a YAML library (none is a dependency): :func:`to_yaml` emits
block mappings and sequences with every string double-quoted, a subset any YAML parser reads,
and every value is a node name, a path or an address the config loaders already checked.

Secrets never enter an image: the Dockerfile copies only the source (from the build context
named ``src``), a ``.dockerignore`` keeps the dir's keys out of the context, and compose
mounts each node's key and admin token read-only into its own container alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .plan import NodeAddresses, port_of

DEPLOY_KINDS = ("compose", "systemd")
IMAGE = "sequencer-net:local"
INSTALL_DIR = "/var/lib/sequencer-net"  # where a bundle's contents go on a systemd host
EXECUTABLE = "/opt/sequencer-net/bin/sequencer-net"  # a venv with sequencer-net installed
SERVICE_USER = "sequencer-net"
IN_CONTAINER = "/node"
USAGE_EXIT = 2  # a config error: restarting cannot fix it

DOCKERFILE = """\
# syntax=docker/dockerfile:1
# One sequencer-net node per container; written by `sequencer-net cluster init --deploy
# compose`. The source comes from the build context `src` (see compose.yaml); nothing of
# this dir (keys, tokens) is copied into the image.
FROM python:3.12-slim
COPY --from=src pyproject.toml README.md /src/
COPY --from=src sequencer_net /src/sequencer_net
RUN pip install --no-cache-dir /src && rm -rf /src
STOPSIGNAL SIGTERM
ENTRYPOINT ["sequencer-net"]
"""


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists, strings, ints and bools."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, Mapping | list) and item:
                lines.append(f"{pad}{key}:")
                lines.append(to_yaml(item, indent + 2))
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    else:
        for item in value:
            if isinstance(item, Mapping | list) and item:
                body = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {body.lstrip()}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return "\n".join(lines)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(str(value))  # a JSON string is a YAML double-quoted scalar


def compose(nodes: Sequence[NodeAddresses], source: str | None, local: bool) -> dict[str, Any]:
    """The compose document: one service per node, its data in a named volume, its config
    and secrets mounted read-only, metrics (and client) ports published. ``local``: every
    node on this machine, published on 127.0.0.1 only, ports apart by node; else the nodes
    of one host, their peer, client and metrics ports published on every interface."""
    services = {}
    for i, node in enumerate(nodes):
        here = f"{IN_CONTAINER}/{node.name}"
        ports = {role: port_of(getattr(node, role)) for role in ("peer", "client", "metrics")}
        if local:
            published = [
                f"127.0.0.1:{ports['client'] + 100 * i}:{ports['client']}",
                f"127.0.0.1:{ports['metrics'] + 100 * i}:{ports['metrics']}",
            ]
        else:
            published = [f"{p}:{p}" for p in ports.values()]
        services[node.name] = {
            "image": IMAGE,
            "build": _build(source),
            "hostname": node.name,
            "command": ["node", "--config", f"{here}/node.toml"],
            "volumes": [
                f"./genesis.toml:{IN_CONTAINER}/genesis.toml:ro",
                f"./{node.name}/node.toml:{here}/node.toml:ro",
                f"./{node.name}/key:{here}/key:ro",
                f"./{node.name}/admin_token:{here}/admin_token:ro",
                f"{node.name}-data:{here}/data",
            ],
            "expose": [str(p) for p in ports.values()],
            "ports": published,
            "restart": "unless-stopped",
            "stop_signal": "SIGTERM",
            "stop_grace_period": "10s",
        }
    return {
        "name": "sequencer-net",
        "services": services,
        "volumes": {f"{node.name}-data": {} for node in nodes},
    }


def _build(source: str | None) -> dict[str, Any]:
    where = f"${{SEQUENCER_NET_SRC:-{source}}}" if source else "${SEQUENCER_NET_SRC:?a checkout}"
    return {"context": ".", "dockerfile": "Dockerfile", "additional_contexts": {"src": where}}


def systemd_unit(name: str, chain_id: str) -> str:
    """One node's unit: restarted on failure, not for a config error (exit 2) that a restart
    cannot fix; allowed to write its data dir only."""
    home = f"{INSTALL_DIR}/{name}"
    return "\n".join(
        [
            "# Written by `sequencer-net cluster init --deploy systemd`. Install the bundle in",
            f"# {INSTALL_DIR} and sequencer-net in {EXECUTABLE.rsplit('/bin/', 1)[0]}",
            "# (see docs/deploy.md), then: systemctl enable --now sequencer-net-" + name,
            "[Unit]",
            f"Description=sequencer-net validator {name} of {chain_id}",
            "Wants=network-online.target",
            "After=network-online.target",
            "StartLimitIntervalSec=300",
            "StartLimitBurst=10",
            "",
            "[Service]",
            "Type=simple",
            f"User={SERVICE_USER}",
            f"Group={SERVICE_USER}",
            f"WorkingDirectory={home}",
            f"ExecStart={EXECUTABLE} node --config {home}/node.toml",
            "Restart=on-failure",
            "RestartSec=5s",
            f"RestartPreventExitStatus={USAGE_EXIT}",
            "KillSignal=SIGTERM",
            "TimeoutStopSec=15s",
            "NoNewPrivileges=yes",
            "PrivateTmp=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            f"ReadWritePaths={home}/data",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def unit_name(name: str) -> str:
    return f"sequencer-net-{name}.service"


def write_deploy(
    kind: str,
    root: Path,
    nodes: Sequence[NodeAddresses],
    chain_id: str,
    source: str | None,
    local: bool,
) -> list[Path]:
    """Write the ``kind`` files for ``nodes`` into ``root``; returns the paths written."""
    if kind == "compose":
        paths = [root / "compose.yaml", root / "Dockerfile", root / ".dockerignore"]
        header = "# Written by `sequencer-net cluster init --deploy compose`; see docs/deploy.md.\n"
        paths[0].write_text(header + to_yaml(compose(nodes, source, local)) + "\n")
        paths[1].write_text(DOCKERFILE)
        paths[2].write_text("# keys and tokens stay out of every build context\n*\n")
        return paths
    units = root / "systemd"
    units.mkdir(exist_ok=True)
    paths = [units / unit_name(node.name) for node in nodes]
    for node, path in zip(nodes, paths, strict=True):
        path.write_text(systemd_unit(node.name, chain_id))
    return paths


def source_dir() -> str | None:
    """The checkout this sequencer-net runs from, if it is one (an editable install): the
    default build context for the Dockerfile."""
    top = Path(__file__).resolve().parents[2]
    return str(top) if (top / "pyproject.toml").is_file() else None

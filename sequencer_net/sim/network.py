"""The simulated network adversary: delay, reorder, drop, duplicate and partitions that heal.

Before global stabilisation time (GST) messages may be lost, delayed up to a large bound, or
cut off by a partition; from GST on, every message between live instances arrives within
``max_delay_ms``. All randomness comes from the one seeded generator passed in.

With an emulated WAN (``scenario.latency``) a message between two validators takes their
pair's one-way delay plus jitter instead, drawn from one generator per link seeded by the run's
seed, and a link delivers in order, as the real node's link layer does (net/delay.py); before
GST the adversary may still add up to ``pre_gst_max_delay_ms``.
"""

from __future__ import annotations

import random

from .scenario import Scenario


class Network:
    def __init__(
        self, scenario: Scenario, rng: random.Random, instances: int, seed: int = 0
    ) -> None:
        self.scenario = scenario
        self.rng = rng
        self.instances = instances
        self.seed = seed
        self._links: dict[tuple[int, int], tuple[random.Random, list[int]]] = {}
        self.gst = scenario.stabilisation_ms
        self._group: list[int] = [0] * instances
        self.sent = self.dropped = self.duplicated = 0

    def partition(self, groups: list[int]) -> None:
        self._group = groups

    def heal(self) -> None:
        self._group = [0] * self.instances

    def random_partition(self, apart: list[tuple[int, int]]) -> list[int]:
        """A random split into two sides; each pair in ``apart`` lands on different sides."""
        groups = [self.rng.randrange(2) for _ in range(self.instances)]
        for a, b in apart:
            groups[b] = 1 - groups[a]
        return groups

    def delivery_delays(
        self, src: int, dst: int, now: int, scheduled: bool | None = None
    ) -> list[int]:
        """Delays (ms) of each copy of one message from ``src`` to ``dst``; empty if lost.
        ``scheduled`` is an adversarial schedule's word before GST: True delivers it promptly
        across any partition, False drops it, None leaves it to the partition."""
        self.sent += 1
        s = self.scenario
        before_gst = now < self.gst
        cut = self._group[src] != self._group[dst] if scheduled is None else not scheduled
        if cut or (before_gst and self.rng.random() < s.drop):
            self.dropped += 1
            return []
        if s.latency:
            return self._wan_delays(src, dst, now, before_gst and not scheduled)
        high = s.pre_gst_max_delay_ms if before_gst and not scheduled else s.max_delay_ms
        delays = [self.rng.randint(s.min_delay_ms, high)]
        if self.rng.random() < s.duplicate:
            self.duplicated += 1
            delays.append(self.rng.randint(s.min_delay_ms, high))
        return delays

    def _wan_delays(self, src: int, dst: int, now: int, adversarial: bool) -> list[int]:
        """The emulated WAN's delays of one message: the pair's latency, in link order."""
        s = self.scenario
        nodes = s.nodes
        latency = s.latency[src % nodes][dst % nodes]  # a twin sits where its validator does
        link = self._links.get((src, dst))
        if link is None:
            rng = random.Random(f"{self.seed}/{s.latency_seed}/{src}/{dst}")
            link = self._links[(src, dst)] = (rng, [0])
        rng, last = link
        copies = 2 if self.rng.random() < s.duplicate else 1
        self.duplicated += copies - 1
        delays = []
        for _ in range(copies):
            delay = round(latency.draw(rng))
            if adversarial:
                delay += self.rng.randint(0, s.pre_gst_max_delay_ms)
            last[0] = max(last[0], now + delay)  # a link delivers in order, like TCP
            delays.append(last[0] - now)
        return delays

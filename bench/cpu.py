"""CPU time per process group on this machine, from /proc (Linux), for core-time-per-event figures.

Wall-clock rates on a 2-core machine hide where the cycles go: the consumer, its decoding helper, the
PostgreSQL server and the Kafka broker all share the same two cores. Summing their CPU seconds over a
run and dividing by the events gives the core-time one event costs, and ``cores / core-time`` is the
most events per second this machine could reach with that work spread perfectly over every core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuSnapshot", "cpu_snapshot", "machine_bound"]

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> tuple[str, float, float]:
    """(command name, own CPU seconds, reaped children's CPU seconds) of one process."""
    text = Path(f"/proc/{pid}/stat").read_text()
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    own = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    children = (int(fields[13]) + int(fields[14])) / _TICK  # cutime, cstime
    return name, own, children


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds so far: this process (with its reaped helpers), PostgreSQL, the Kafka broker."""

    consumer: float
    postgres: float
    broker: float

    def __sub__(self, other: CpuSnapshot) -> CpuSnapshot:
        return CpuSnapshot(
            self.consumer - other.consumer, self.postgres - other.postgres, self.broker - other.broker
        )

    @property
    def total(self) -> float:
        """All three together."""
        return self.consumer + self.postgres + self.broker


def cpu_snapshot() -> CpuSnapshot:
    """Read the CPU seconds of this process and its children, every postgres process and the broker.

    Children (the decoding helper) count once they have exited and been reaped; live children of this
    process are read directly so a snapshot taken while the helper runs still includes it.
    """
    me = os.getpid()
    consumer = postgres = broker = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            name, own, reaped = _proc_cpu(pid)
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if pid == me:
            consumer += own + reaped
        elif ppid == me:
            consumer += own  # a live helper (its CPU moves into our "reaped" sum when it exits)
        elif name.startswith("postgres"):
            postgres += own + reaped  # the postmaster's reaped children: backends already closed
        elif name == "java" and b"kafka" in cmdline:
            broker += own
    return CpuSnapshot(consumer, postgres, broker)


def machine_bound(core_seconds_per_event: float) -> float:
    """Events per second if this per-event core-time ran on every core of the machine at once."""
    cores = os.cpu_count() or 1
    return cores / core_seconds_per_event if core_seconds_per_event > 0 else float("inf")

"""Hosts from node_exporter: a service per `instance` of `node_cpu_seconds_total`, named from
the instance without its port (with it when two instances share a host).

cpu is the cores busy (every mode but idle), bounded by the cores the host has; memory is what
is in use (MemTotal - MemAvailable), bounded by MemTotal; disk_free is the free space of the
fullest real filesystem, bad when it goes down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiops.discovery.conventions import (
    RATE_WINDOW,
    DraftSignal,
    FoundService,
    Inventory,
    jobs_of,
    label_values,
    promql_string,
    service_matcher,
    service_name,
)

CPU = "node_cpu_seconds_total"
MEM_TOTAL = "node_memory_MemTotal_bytes"
MEM_AVAILABLE = "node_memory_MemAvailable_bytes"
FS_AVAILABLE = "node_filesystem_avail_bytes"
_REAL_FS = 'fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|autofs|proc|sysfs"'
_PORT = re.compile(r":\d+$")


@dataclass(frozen=True)
class NodeConvention:
    name: str = "node"
    title: str = "node_exporter hosts"

    def recognise(self, inventory: Inventory, claimed_jobs: frozenset[str]) -> list[FoundService]:
        have = inventory.metric_names()
        if CPU not in have:
            return []
        series = inventory.series(CPU)
        instances = label_values(series, "instance")
        names = _names(instances)
        found = []
        for raw in instances:
            name = names.get(raw)
            if name is None:
                continue
            own = [s for s in series if s.get("instance") == raw]
            inst = service_matcher("instance", raw, name)
            literal = f"instance={promql_string(raw)}"
            cores = len(label_values(own, "cpu")) or None
            signals = {
                "cpu": DraftSignal(
                    f'sum(rate({CPU}{{{inst},mode!="idle"}}[{RATE_WINDOW}]))',
                    "cores",
                    "saturation",
                    "up",
                    0.0,
                    float(cores) if cores else None,
                ),
            }
            if MEM_TOTAL in have and MEM_AVAILABLE in have:
                total = inventory.value(f"max({MEM_TOTAL}{{{literal}}})")
                signals["memory"] = DraftSignal(
                    f"sum({MEM_TOTAL}{{{inst}}}) - sum({MEM_AVAILABLE}{{{inst}}})",
                    "bytes",
                    "saturation",
                    "up",
                    0.0,
                    total or None,
                )
            if FS_AVAILABLE in have and inventory.series(f"{FS_AVAILABLE}{{{literal},{_REAL_FS}}}"):
                signals["disk_free"] = DraftSignal(
                    f"min({FS_AVAILABLE}{{{inst},{_REAL_FS}}})", "bytes", "saturation", "down"
                )
            found.append(
                FoundService(name, self.name, f'{CPU} instance="{raw}"', signals, jobs_of(own))
            )
        return found


def _names(instances: list[str]) -> dict[str, str]:
    """Instance -> service name: the host alone, or host and port where hosts repeat."""
    hosts = [service_name(_PORT.sub("", raw)) for raw in instances]
    out: dict[str, str] = {}
    for raw, host in zip(instances, hosts, strict=True):
        name = host if host and hosts.count(host) == 1 else service_name(raw)
        if name and name not in out.values():
            out[raw] = name
    return out


NODES = NodeConvention()

__all__ = ["NODES", "NodeConvention"]

"""CPU time of another process tree, read from /proc (stdlib only: every interpreter imports it)."""

from __future__ import annotations

import os
from pathlib import Path


def tree_cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of ``pid`` and every process below it (0 when gone)."""
    if pid is None:
        return 0.0
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += ticks.get(current, 0)
        todo += children.get(current, [])
    return total / os.sysconf("SC_CLK_TCK")

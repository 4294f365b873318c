"""What /healthz reports besides the engine: named probes that parts of the service register (synthesis
slots, the task queue and its store). A probe returns a dict; `"ok": false` in it makes the service
`degraded` (up, but a part it needs is not), and a probe that raises is reported, never fatal."""
from __future__ import annotations

from typing import Callable

Probe = Callable[[], dict]


class HealthProbes:
    def __init__(self) -> None:
        self._probes: dict[str, Probe] = {}

    def add(self, name: str, probe: Probe) -> None:
        self._probes[name] = probe

    def report(self) -> tuple[dict[str, dict], bool]:
        """Each probe's answer by name, and whether all the parts are fine."""
        parts, healthy = {}, True
        for name, probe in self._probes.items():
            try:
                parts[name] = probe()
            except Exception as exc:  # a broken probe must not take the health check down
                parts[name] = {"error": str(exc)}
            if isinstance(parts[name], dict) and parts[name].get("ok") is False:
                healthy = False
        return parts, healthy

"""The process's share of the machine: its resident memory (threads per worker:
hpo.backend.configure_threads; its device: hpo.devices)."""

from __future__ import annotations


def resident_mib() -> float:
    """This process's resident memory (Linux), for the progress lines; NaN elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")

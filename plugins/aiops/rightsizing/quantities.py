"""Kubernetes resource quantities: cores as millicores and bytes as Mi/Gi, rounded up (a
request rounded down is one the peak it was computed from does not fit in), and read back."""

from __future__ import annotations

import math
import re

from aiops.rightsizing.usage import MIB

GIB_IN_MIB = 1024
_CPU = re.compile(r"^\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(m?)\s*$")
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*([KMGTPE]i?|k|m)?\s*$")
_MEMORY_FACTOR = {
    None: 1.0,
    "m": 1e-3,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


def cpu_quantity(cores: float) -> str:
    """Cores as a Kubernetes CPU quantity in millicores, rounded up: 0.1205 -> "121m"
    (a request rounded down would not hold the peak it was computed from)."""
    if not math.isfinite(cores) or cores < 0:
        raise ValueError(f"cpu_quantity: cores must be finite and >= 0, got {cores!r}")
    return f"{math.ceil(round(cores * 1000.0, 6))}m"


def memory_quantity(nbytes: float) -> str:
    """Bytes as a Kubernetes memory quantity, rounded up to a MiB: "1Gi" when a whole number
    of GiB, else "384Mi" (binary suffixes, as people write them in manifests)."""
    if not math.isfinite(nbytes) or nbytes < 0:
        raise ValueError(f"memory_quantity: bytes must be finite and >= 0, got {nbytes!r}")
    mib = math.ceil(round(nbytes / MIB, 6))
    if mib and mib % GIB_IN_MIB == 0:
        return f"{mib // GIB_IN_MIB}Gi"
    return f"{mib}Mi"


def cores_from_quantity(quantity: str) -> float:
    """A Kubernetes CPU quantity in cores: "120m" -> 0.12, "2" -> 2.0, "0.5" -> 0.5."""
    m = _CPU.match(str(quantity))
    if m is None:
        raise ValueError(f"not a CPU quantity such as 120m or 2: {quantity!r}")
    value = float(m.group(1))
    return value / 1000.0 if m.group(2) else value


def bytes_from_quantity(quantity: str) -> float:
    """A Kubernetes memory quantity in bytes: "384Mi" -> 402653184, "1G" -> 1e9, "512" -> 512."""
    m = _MEMORY.match(str(quantity))
    if m is None:
        raise ValueError(f"not a memory quantity such as 384Mi, 1Gi or 1G: {quantity!r}")
    return float(m.group(1)) * _MEMORY_FACTOR[m.group(2)]

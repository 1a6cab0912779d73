"""The security posture a device reports when it registers and at each sync: OS, disk
encryption, screen lock, a debugger attached, running as root.

The server records these facts for compliance review (docs/device-registry.md); they prove
nothing, since a device reports them about itself. So this module only says what it can find
out cheaply and honestly, and ``None`` (unknown) otherwise, never a guess:

- ``os``: ``platform.system()`` and ``platform.release()``.
- ``disk_encryption``: on Linux, whether the file system holding the home directory sits on a
  dm-crypt mapping (LUKS), read from ``/proc/self/mountinfo`` and ``/sys/class/block``; a plain
  disk partition is ``False``; anything else (overlay, network, container storage) is unknown.
  On macOS, ``fdesetup status`` (FileVault). Elsewhere unknown.
- ``screen_lock``: unknown everywhere: no cheap, reliable, unprivileged check exists.
- ``debugger``: on Linux, a tracer attached (``TracerPid``); elsewhere unknown.
- ``root``: the effective uid is 0; unknown where there are no uids.

What each failing fact leads to is the policy's (:mod:`bedside.policy.posture`).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["debugger", "disk_encryption", "posture", "root"]

_SYS_BLOCK = Path("/sys/class/block")


def posture(home: Path) -> dict[str, Any]:
    """The posture facts for ``POST /device/register`` and each sync's health report;
    ``None`` means unknown."""
    return {
        "os": f"{platform.system()} {platform.release()}".strip() or None,
        "disk_encryption": disk_encryption(home),
        "screen_lock": None,
        "debugger": debugger(),
        "root": root(),
    }


def debugger() -> bool | None:
    """Whether another process traces this one (``TracerPid`` in /proc/self/status: a debugger
    or strace attached); None off Linux. Python-level tracers (coverage) do not count."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("TracerPid:"):
                return line.split(":", 1)[1].strip() != "0"
    except OSError:
        return None
    return None


def root() -> bool | None:
    """Whether the app runs as the administrator (uid 0); None where there are no uids."""
    geteuid = getattr(os, "geteuid", None)
    return None if geteuid is None else geteuid() == 0


def disk_encryption(home: Path) -> bool | None:
    """Whether the disk holding ``home`` is encrypted by the OS; None when it cannot be told."""
    try:
        if sys.platform.startswith("linux"):
            return _linux(home.resolve())
        if sys.platform == "darwin":
            return _filevault()
    except OSError:
        return None
    return None


def _linux(path: Path) -> bool | None:
    device = _mount_device(path)
    if device is None:
        return None
    name = _block_name(device)
    if name is None or not (_SYS_BLOCK / name).exists():
        return None
    return _encrypted(name, depth=0)


def _mount_device(path: Path) -> str | None:
    """The ``major:minor`` of the mount holding ``path`` (mountinfo field 3, longest match)."""
    best: tuple[int, str] | None = None
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        mount_point = fields[4].replace("\\040", " ")
        inside = path == Path(mount_point) or Path(mount_point) in path.parents
        if inside and (best is None or len(mount_point) > best[0]):
            best = (len(mount_point), fields[2])
    return best[1] if best else None


def _block_name(dev: str) -> str | None:
    """The /sys/class/block name of a ``major:minor`` pair, if it is a block device."""
    link = Path("/sys/dev/block") / dev
    if not link.exists():
        return None
    return os.path.basename(os.path.realpath(link))


def _encrypted(name: str, depth: int) -> bool | None:
    """dm-crypt anywhere in the stack below ``name`` (LVM on LUKS, LUKS on RAID ...)."""
    if depth > 8:
        return None
    node = _SYS_BLOCK / name
    uuid_file = node / "dm" / "uuid"
    if uuid_file.exists() and uuid_file.read_text().startswith("CRYPT-"):
        return True
    slaves = sorted((node / "slaves").iterdir()) if (node / "slaves").is_dir() else []
    if not slaves:
        return False if (node / "dev").exists() and not uuid_file.exists() else None
    found = [_encrypted(s.name, depth + 1) for s in slaves]
    if any(f is True for f in found):
        return True
    return False if all(f is False for f in found) else None


def _filevault() -> bool | None:
    try:
        done = subprocess.run(
            ["/usr/bin/fdesetup", "status"], capture_output=True, text=True, timeout=3
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if "FileVault is On" in done.stdout:
        return True
    if "FileVault is Off" in done.stdout:
        return False
    return None

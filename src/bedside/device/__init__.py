"""The device node: encrypted local store, keys, offline policy, working set, outbox, sync.

The app uses :class:`Node` and catches :class:`DeviceError` (every message is a sentence for
the user); the rest of the package is the node's internals, one concept per module.
"""

from bedside.device.errors import (
    AttachmentError,
    DeviceError,
    KeysLocked,
    KeystoreUnavailable,
    Locked,
    NotEnrolled,
    Refused,
    WrongPin,
)
from bedside.device.node import Node
from bedside.device.status import Status
from bedside.device.ticker import Ticker

__all__ = [
    "AttachmentError",
    "DeviceError",
    "KeysLocked",
    "KeystoreUnavailable",
    "Locked",
    "Node",
    "NotEnrolled",
    "Refused",
    "Status",
    "Ticker",
    "WrongPin",
]

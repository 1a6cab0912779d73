"""The device's own timer: :meth:`Node.tick` every so often, on a background thread.

An app with an event loop of its own may call ``Node.tick()`` from it instead; one without (a
script, the CLI kept open) starts a :class:`Ticker`. Each tick locks the device once it has been
idle for ``inactivity_seconds`` or its snapshot has run out, checkpoints the store, and enforces
retention (docs/device-offline.md). A tick that fails is skipped, never fatal: the next one
tries again, and the same checks run at every unlock anyway.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Final

import structlog

if TYPE_CHECKING:
    from bedside.device.node import Node

__all__ = ["DEFAULT_EVERY", "Ticker"]

DEFAULT_EVERY: Final = 60.0  # seconds: idle locks land within a minute of their time
_log = structlog.get_logger("bedside.device")


class Ticker:
    """Calls ``node.tick()`` every ``every`` seconds until stopped (a daemon thread)."""

    def __init__(self, node: Node, every: float = DEFAULT_EVERY) -> None:
        if every <= 0:
            raise ValueError("every must be positive")
        self._node = node
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bedside-device-ticker", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._every + 5)

    def __enter__(self) -> Ticker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._node.tick()
            except Exception as exc:
                _log.warning("device.tick_failed", error_type=type(exc).__name__)

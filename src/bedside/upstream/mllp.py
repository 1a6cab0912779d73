"""The MLLP listener (HL7 v2 Minimal Lower Layer Protocol, release 2): asyncio over TCP.

Each message is framed ``0x0B <message> 0x1C 0x0D``; each gets its acknowledgement in the same
framing before the next one is read, so a sender that waits for its ACK knows the message is
durable (the write committed, or the message is in the dead-letter store). Bytes outside a
frame are skipped; a frame larger than :data:`MAX_MESSAGE` is answered ``AR`` and the
connection closed. The feed runs in a worker thread: its writes are blocking database calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from bedside.errors import BedsideError
from bedside.upstream.hl7_feed import Ack, ack_for_raw

__all__ = [
    "END",
    "MAX_MESSAGE",
    "START",
    "FrameTooLarge",
    "MllpServer",
    "frame",
    "read_frame",
]

START: Final = b"\x0b"
END: Final = b"\x1c\x0d"
MAX_MESSAGE: Final = 4 * 1024 * 1024
log = logging.getLogger("bedside.upstream")


def frame(message: bytes) -> bytes:
    return START + message + END


class FrameTooLarge(BedsideError):
    pass


async def read_frame(reader: asyncio.StreamReader, limit: int = MAX_MESSAGE) -> bytes | None:
    """The next framed message, or None at end of stream."""
    while True:
        byte = await reader.read(1)
        if not byte:
            return None
        if byte == START:
            break
    buf = bytearray()
    while True:
        try:
            chunk = await reader.readuntil(END)
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError as exc:
            chunk = await reader.read(exc.consumed)
            buf.extend(chunk)
            if len(buf) > limit:
                raise FrameTooLarge from None
            continue
        buf.extend(chunk[: -len(END)])
        if len(buf) > limit:
            raise FrameTooLarge
        return bytes(buf)


class MllpServer:
    """Listens on ``host:port`` and hands each message to ``receive`` (an Hl7Feed's)."""

    def __init__(self, host: str, port: int, receive: Callable[[bytes], Ack]) -> None:
        self.host = host
        self.port = port
        self.receive = receive
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    message = await read_frame(reader)
                except FrameTooLarge:
                    reason = f"The message is larger than {MAX_MESSAGE // (1024 * 1024)} MiB."
                    writer.write(frame(ack_for_raw(b"", "AR", reason)))
                    await writer.drain()
                    return
                if message is None:
                    return
                ack = await loop.run_in_executor(None, self.receive, message)
                writer.write(frame(ack.message))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        except Exception as exc:  # a broken feed must not take the listener down
            log.error("mllp connection failed", extra={"error_type": type(exc).__name__})
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

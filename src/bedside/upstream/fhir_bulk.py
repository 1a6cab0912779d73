"""A Bulk Data ``$export`` client (FHIR Bulk Data Access IG 2.0, "Bulk Data Kick-off Request",
"Bulk Data Status Request", "File Request"), for sources that offer it.

Kick-off ``GET [base]/$export?_type=…&_since=…`` with ``Prefer: respond-async`` (202 and a
``Content-Location``), poll that URL (202 with ``Retry-After`` while in progress, 200 with the
manifest when done), then read each NDJSON file of ``output`` and each Bundle of ``deleted``
(entries with request method DELETE, the IG's way to report deletions since ``_since``).
The manifest's ``transactionTime`` becomes the next ``_since``. Status and file URLs must be on
the source's own host (no presigned URLs elsewhere: the puller never follows a source to another
host). Files are read whole, one at a time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

import orjson

from bedside.upstream.config import UpstreamError

if TYPE_CHECKING:
    from bedside.upstream.fhir_pull import FhirPull

__all__ = ["MAX_WAIT", "BulkExport"]

MAX_WAIT: Final = 600.0  # seconds to wait for an export before giving up
_MAX_RETRY_AFTER: Final = 10.0


class BulkExport:
    def __init__(self, pull: FhirPull, types: list[str], since: str | None) -> None:
        self.pull = pull
        self.types = types
        self.since = since
        self.transaction_time = ""
        self.name = pull.source.name

    def entries(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """(type, entries) in the configured type order, deletions after each type's updates;
        entries look like history entries so the puller treats both alike."""
        manifest = self._manifest()
        self.transaction_time = str(manifest.get("transactionTime") or "")
        if not self.transaction_time:
            raise UpstreamError(f"Source {self.name}: the export manifest has no transactionTime.")
        outputs = [o for o in manifest.get("output") or [] if isinstance(o, dict)]
        deleted = [d for d in manifest.get("deleted") or [] if isinstance(d, dict)]
        gone: dict[str, list[dict[str, Any]]] = {}
        for item in deleted:
            for bundle in self._ndjson(str(item.get("url", ""))):
                for entry in bundle.get("entry") or []:
                    url = str(entry.get("request", {}).get("url", ""))
                    rtype = url.split("/", 1)[0]
                    gone.setdefault(rtype, []).append(
                        {
                            "request": {"method": "DELETE", "url": url},
                            "response": {"lastModified": self.transaction_time},
                        }
                    )
        size = self.pull.source.page_size
        for rtype in self.types:
            rows: list[dict[str, Any]] = []
            for out in outputs:
                if out.get("type") == rtype:
                    rows.extend({"resource": r} for r in self._ndjson(str(out.get("url", ""))))
            rows.extend(gone.get(rtype, []))
            for i in range(0, len(rows), size):
                yield rtype, rows[i : i + size]
        self._done()

    def _manifest(self) -> dict[str, Any]:
        params = {"_type": ",".join(self.types)}
        if self.since:
            params["_since"] = self.since
        kick = self.pull.request(
            "GET", f"{self.pull.source.base_url}/$export", params, Prefer="respond-async"
        )
        if kick.status_code != 202 or not kick.headers.get("Content-Location"):
            raise UpstreamError(
                f"Source {self.name}: the export kick-off answered {kick.status_code}."
            )
        self._status_url = kick.headers["Content-Location"]
        deadline = time.monotonic() + MAX_WAIT
        while True:
            resp = self.pull.request("GET", self._status_url)
            if resp.status_code == 200:
                try:
                    body: dict[str, Any] = orjson.loads(resp.content)
                except orjson.JSONDecodeError:
                    raise UpstreamError(
                        f"Source {self.name}: the export manifest is not JSON."
                    ) from None
                return body
            if resp.status_code != 202:
                raise UpstreamError(
                    f"Source {self.name}: the export status answered {resp.status_code}."
                )
            if time.monotonic() > deadline:
                raise UpstreamError(f"Source {self.name}: the export did not finish in time.")
            time.sleep(_retry_after(resp.headers.get("Retry-After")))

    def _ndjson(self, url: str) -> Iterator[dict[str, Any]]:
        resp = self.pull.request("GET", url, Accept="application/fhir+ndjson")
        if resp.status_code != 200:
            raise UpstreamError(f"Source {self.name}: an export file answered {resp.status_code}.")
        for n, line in enumerate(resp.content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise UpstreamError(
                    f"Source {self.name}: line {n} of an export file is not JSON."
                ) from None
            if isinstance(value, dict):
                yield value

    def _done(self) -> None:
        """Tell the source the files may go (Bulk Data "Delete a Bulk Data Request")."""
        with contextlib.suppress(UpstreamError):  # else the source cleans up on its own
            self.pull.request("DELETE", self._status_url)


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value or 1), 0.1), _MAX_RETRY_AFTER)
    except ValueError:
        return 1.0

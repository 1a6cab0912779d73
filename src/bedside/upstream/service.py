"""The upstream ingest of one server, built once from ``upstream.toml`` (by the CLI or by
``bedside serve``) and handed what it needs: the store, the server's policy and audit trail.

Every source writes through a :class:`~bedside.rest.Repository` bound to its own system caller
(subject ``upstream:<name>``, client id ``upstream-<name>``, ``system/*.cruds``), so the
server's Provenance of each write names the feed and the audit trail records it like any
other system client.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from bedside.audit.entry import Auditor, NullAuditor
from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.consent.evaluate import shares_for
from bedside.policy.decide import Policy
from bedside.rest import Repository
from bedside.store.base import Store
from bedside.upstream import ledger
from bedside.upstream.canonical import Writer
from bedside.upstream.config import FhirSource, Hl7Source, UpstreamConfig, UpstreamError
from bedside.upstream.counters import Counters
from bedside.upstream.credentials import Credentials
from bedside.upstream.fhir_pull import FhirPull, PullReport
from bedside.upstream.hl7_feed import Ack, Hl7Feed
from bedside.upstream.mllp import MllpServer
from bedside.upstream.terminology import load_concept_map

__all__ = [
    "FileReport",
    "Upstream",
    "default_path",
    "split_messages",
]

_TIMEOUT: Final = httpx.Timeout(30.0)


@dataclass
class FileReport:
    messages: int = 0
    accepted: int = 0
    refused: int = 0


class Upstream:
    def __init__(
        self,
        store: Store,
        config: UpstreamConfig,
        fhir_base: str,
        *,
        policy: Policy | None = None,
        auditor: Auditor | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.fhir_base = fhir_base
        self.policy = policy or Policy(consents=shares_for)
        self.auditor: Auditor = auditor or NullAuditor()  # as Repository defaulted it before
        self.counters: dict[str, Counters] = {name: Counters() for name in config.sources}
        self._feeds: dict[str, Hl7Feed] = {}

    def check(self) -> None:
        """Load what each source needs beyond the file (its ConceptMap), so a mistake there
        also stops the start with one sentence instead of failing the first message."""
        for name, source in self.config.sources.items():
            if isinstance(source, Hl7Source):
                self.feed(name)

    def writer(self, name: str) -> Writer:
        source = self.config.source(name)
        caller = Caller(
            f"upstream:{name}", ScopeSet.parse("system/*.cruds"), client_id=f"upstream-{name}"
        )
        repo = Repository(
            self.store, caller, self.fhir_base, policy=self.policy, auditor=self.auditor
        )
        return Writer(repo, source, self.config)

    def feed(self, name: str) -> Hl7Feed:
        if name not in self._feeds:
            source = self.config.source(name)
            if not isinstance(source, Hl7Source):
                raise UpstreamError(f"Source {name} is a FHIR server, not an HL7 v2 feed.")
            terms = load_concept_map(source.concept_map, source.units)
            self._feeds[name] = Hl7Feed(self.writer(name), source, terms, self.counters[name])
        return self._feeds[name]

    def pull(
        self, name: str, on_progress: Callable[[str, int], None] = lambda t, n: None
    ) -> PullReport:
        source = self.config.source(name)
        if not isinstance(source, FhirSource):
            raise UpstreamError(f"Source {name} is an HL7 v2 feed; only FHIR sources are pulled.")
        with httpx.Client(timeout=_TIMEOUT, follow_redirects=False) as http:
            puller = FhirPull(
                self.writer(name), source, self.counters[name], http, Credentials(source)
            )
            return puller.run(on_progress)

    def read_files(
        self, name: str, on_message: Callable[[Ack], None] = lambda a: None
    ) -> FileReport:
        """Every message in the source's ``files`` folder; a file whose messages all went
        through (accepted, or kept as dead letters) moves to ``done/`` beside it."""
        feed = self.feed(name)
        folder = feed.source.files
        report = FileReport()
        if folder is None or not folder.is_dir():
            return report
        done = folder / "done"
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            for raw in split_messages(path.read_bytes()):
                ack = feed.receive(raw)
                report.messages += 1
                if ack.code == "AA":
                    report.accepted += 1
                else:
                    report.refused += 1
                on_message(ack)
            done.mkdir(exist_ok=True, mode=0o700)
            path.rename(done / path.name)
        return report

    def retry(self, name: str, letter_id: str | None) -> list[Ack]:
        """Retry one dead letter, or every open one of the source (oldest first)."""
        source = self.config.source(name)
        with self.store.records() as db:
            if letter_id is None:
                letters = ledger.dead_letters(db, name)
            else:
                one = ledger.dead_letter(db, letter_id)
                if one is None or one.source != name:
                    raise UpstreamError(f"There is no dead letter {letter_id} for source {name}.")
                letters = [one]
        if isinstance(source, Hl7Source):
            feed = self.feed(name)
            return [feed.retry(letter.id) for letter in letters]
        with httpx.Client(timeout=_TIMEOUT) as http:  # a replay reads nothing from the source
            puller = FhirPull(
                self.writer(name), source, self.counters[name], http, Credentials(source)
            )
            out = []
            for letter in letters:
                reason = puller.replay(letter)
                code = "AA" if reason is None else "AE"
                out.append(Ack(code, letter.entity, reason, b"", letter.id))
            return out

    def status(self, name: str) -> dict[str, object]:
        source = self.config.source(name)
        with self.store.records() as db:
            counts = ledger.counts(db, name)
            letters = [x.summary() for x in ledger.dead_letters(db, name)]
            marks = ledger.marks(db, name)
        return {
            "source": name,
            "kind": source.kind,
            "system": source.system,
            **counts,
            "marks": marks,
            "dead_letters": letters,
            "this_process": self.counters[name].snapshot(),
        }

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[list[MllpServer]]:
        """The MLLP listeners of every source with a port, open for the ``async with``."""
        servers = []
        try:
            for name, source in self.config.sources.items():
                if isinstance(source, Hl7Source) and source.mllp_port is not None:
                    server = MllpServer(source.mllp_host, source.mllp_port, self.feed(name).receive)
                    await server.start()
                    servers.append(server)
            yield servers
        finally:
            for server in servers:
                await server.stop()


def split_messages(data: bytes) -> list[bytes]:
    """The messages of a file: each starts at a line beginning ``MSH``; MLLP framing bytes
    (files captured from a wire) are ignored."""
    text = (
        data.replace(b"\x0b", b"")
        .replace(b"\x1c", b"")
        .replace(b"\r\n", b"\r")
        .replace(b"\n", b"\r")
    )
    out: list[bytes] = []
    for line in text.split(b"\r"):
        if not line.strip():
            continue
        if line.startswith(b"MSH"):
            out.append(line + b"\r")
        elif out:
            out[-1] += line + b"\r"
    return out


def default_path(data_dir: Path) -> Path:
    return data_dir / "upstream.toml"

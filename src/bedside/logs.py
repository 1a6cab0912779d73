"""Structured logs that cannot carry PHI: every line passes one scrubbing step.

Bedside's own loggers (``structlog.get_logger(...)`` or ``logging.getLogger(...)``), uvicorn's
and every other library's stdlib loggers all end in one handler whose formatter runs
:func:`scrub` last before rendering (docs/logging.md). Logs leave the PHI boundary (terminals,
journald, log shippers), so the scrubber works by allow-list, not by guessing what is sensitive:

1. Only keys in :data:`ALLOWED_KEYS` keep their values, and only values of the expected shape
   (a status is a number, a method an HTTP method, a resource type a FHIR type); every other
   value becomes ``"[redacted]"``.
2. URL paths are reduced to templates: ``/fhir/Patient/123?name=X`` becomes
   ``/fhir/Patient/{id}``; query strings are dropped entirely.
3. The free-text message goes through :func:`scrub_text`, which blanks what looks like an
   identifier, e-mail address, phone number, date or URL query. Names cannot be recognised by
   pattern, so messages must be constants: put values in allowed keys.

Arguments of stdlib ``%``-style messages are kept only when they are numbers; strings become
``"[redacted]"``. Exceptions are reduced to their type and code locations: an exception's
message (``KeyError('Quixtrapper')``, a database error's ``DETAIL``) is never logged.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import IO, Final

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from bedside.fhir.resource_types import is_resource_type

__all__ = [
    "ALLOWED_KEYS",
    "REDACTED",
    "configure_logging",
    "path_template",
    "scrub",
    "scrub_text",
]

REDACTED: Final = "[redacted]"

#: Path segments kept verbatim: Bedside's fixed routes. Anything else that is not a FHIR
#: resource type is an id (or a deployment prefix) and becomes ``{id}``.
_LITERAL_SEGMENTS: Final = frozenset(
    {
        "fhir",
        "metadata",
        "healthz",
        "_history",
        "_search",
        ".well-known",
        "smart-configuration",
        "openid-configuration",
        "auth",
        "authorize",
        "signin",
        "patient",
        "consent",
        "token",
        "introspect",
        "revoke",
        "jwks",
        "grants",
        "launch",
        "smart-style.json",
    }
)
#: FHIR operations (operationslist.html) whose names may appear in a path template.
_OPERATIONS: Final = frozenset(
    {"everything", "export", "validate", "meta", "meta-add", "meta-delete", "lastn", "expand"}
    | {"lookup", "translate", "match", "document", "process-message", "graphql", "stats"}
)
_HTTP_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TYPE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,127}")
_MAX_FRAMES: Final = 12


def path_template(path: object) -> str:
    """The route a request path took, with ids, unknown segments and the query removed."""
    if not isinstance(path, str):
        return REDACTED
    path = path.split("?", 1)[0].split("#", 1)[0]
    out: list[str] = []
    previous = ""
    for segment in path.split("/"):
        if not segment or segment in _LITERAL_SEGMENTS or is_resource_type(segment):
            out.append(segment)
        elif segment.startswith("$"):
            out.append(segment if segment[1:] in _OPERATIONS else "${op}")
        else:
            out.append("{vid}" if previous == "_history" else "{id}")
        previous = segment
    return "/".join(out) or "/"


# --- free text ----------------------------------------------------------------------------------

_REFERENCE: Final = re.compile(r"\b([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})")
_TEXT_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"\?[^\s\"'<>]*"), ""),  # URL query strings: dropped
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (
        re.compile(
            r"\b\d{4}-\d{2}(?:-\d{2})?(?:T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?\b"
            r"|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"
        ),
        "[date]",
    ),
)
_PHONE: Final = re.compile(r"(?<![\w/])\+?\(?\d[\d ().-]{6,}\d(?![\w/])")
_TOKENISH: Final = re.compile(r"[\w.+/=-]+")


def _identifier(match: re.Match[str]) -> str:
    """Token-like runs with 4+ digits (MRNs, SSNs, ids, addresses) or 32+ characters (bearer
    tokens, codes) are identifiers."""
    token = match[0]
    if len(token) >= 32 or sum(c.isdigit() for c in token) >= 4:
        return "[id]"
    return token


def scrub_text(text: object) -> str:
    """Blank what in free text looks like an identifier, e-mail, phone number, date or query."""
    if not isinstance(text, str):
        return REDACTED
    text = _REFERENCE.sub(
        lambda m: f"{m[1]}/{{id}}" if is_resource_type(m[1]) else m[0],
        text,
    )
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    text = _PHONE.sub(lambda m: "[phone]" if sum(c.isdigit() for c in m[0]) >= 7 else m[0], text)
    return _TOKENISH.sub(_identifier, text)


# --- the scrubbing processor --------------------------------------------------------------------


def _number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return REDACTED
    return value


def _method(value: object) -> str:
    if not isinstance(value, str):
        return REDACTED
    return value if value in _HTTP_METHODS else "OTHER"


def _matching(pattern: re.Pattern[str]) -> Callable[[object], object]:
    def check(value: object) -> object:
        return value if isinstance(value, str) and pattern.fullmatch(value) else REDACTED

    return check


def _resource_type(value: object) -> object:
    return value if isinstance(value, str) and is_resource_type(value) else REDACTED


def _trusted(value: object) -> object:  # set by structlog's own processors, not by callers
    return value


#: Keys that may carry a value, each with the check its value must pass.
_RULES: Final[Mapping[str, Callable[[object], object]]] = {
    "event": scrub_text,
    "level": _trusted,
    "logger": _trusted,
    "method": _method,
    "path": path_template,
    "route": path_template,
    "status": _number,
    "duration_ms": _number,
    "count": _number,
    "pid": _number,
    "request_id": _matching(_TOKEN),
    "resource_type": _resource_type,
    "interaction": _matching(re.compile(r"[a-z][a-z-]{0,31}")),
    "error_type": _matching(_TYPE_NAME),
    "location": _matching(re.compile(r"[\w./<>-]{1,200}:\d{1,7}")),  # code: file:line
    # the device's purge lines (bedside.device.workingset): a reason code and counts, never ids
    "reason": _matching(re.compile(r"[a-z][a-z-]{0,31}")),
    **dict.fromkeys(
        (
            "patients",
            "resources",
            "search",
            "drafts",
            "attachments",
            "conflicts",
            "outbox",
            "outbox_kept",
            "attachments_kept",
        ),
        _number,
    ),
}
ALLOWED_KEYS: Final = frozenset(_RULES)
_SET_BY_LOGGING: Final = frozenset({"event", "level", "logger"})  # not from `extra=`


def scrub(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The structlog processor every log line passes before it is rendered."""
    event_dict.pop("_record", None)
    event_dict.pop("_from_structlog", None)
    args = event_dict.pop("positional_args", None)
    if args and isinstance(event_dict.get("event"), str):
        event_dict["event"] = _interpolate(event_dict["event"], args)
    exc_info = event_dict.pop("exc_info", None)
    event_dict.pop("stack_info", None)
    out: EventDict = {}
    for key, value in event_dict.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            continue
        rule = _RULES.get(key)
        out[key] = REDACTED if rule is None else rule(value)
    out.update(_exception_fields(exc_info))
    return out


def _interpolate(template: str, args: object) -> str:
    """``template % args`` with every non-numeric argument replaced by ``[redacted]``."""
    safe: object
    if isinstance(args, Mapping):
        safe = {k: _safe_arg(v) for k, v in args.items()}
    elif isinstance(args, tuple):
        safe = tuple(_safe_arg(a) for a in args)
    else:
        safe = (_safe_arg(args),)
    try:
        return template % safe
    except (TypeError, ValueError, KeyError):
        return template


def _safe_arg(value: object) -> object:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else REDACTED


def _exception_fields(exc_info: object) -> dict[str, str]:
    """The exception's type and where it was raised; never its message (which may hold PHI)."""
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        exc_info = exc_info[1]
    if not isinstance(exc_info, BaseException):
        return {}
    frames = traceback.extract_tb(exc_info.__traceback__)[-_MAX_FRAMES:]
    stack = " > ".join(f"{_short(f.filename)}:{f.lineno}:{f.name}" for f in frames)
    fields = {"error_type": _type_name(type(exc_info))}
    if stack:
        fields["stack"] = stack
    return fields


def _type_name(cls: type[BaseException]) -> str:
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _short(filename: str) -> str:
    return "/".join(filename.replace("\\", "/").split("/")[-2:])


# --- wiring -------------------------------------------------------------------------------------


def _from_stdlib(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A stdlib record's message template (its arguments are checked by :func:`scrub`).

    A non-string message (``logger.error(exc)``) becomes its type name: its text may hold PHI.
    """
    record = event_dict.get("_record")
    if record is not None and not isinstance(record.msg, str):
        event_dict["event"] = f"<{type(record.msg).__name__}>"
    return event_dict


class _ScrubbingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler :func:`configure_logging` installed, so a second call replaces it."""


def configure_logging(
    level: str = "info", *, json: bool = False, stream: IO[str] | None = None
) -> None:
    """Send every log record, structlog's or stdlib's, through :func:`scrub` to ``stream``.

    Call once per process before serving (the CLI for ``serve``, each worker of
    ``serve --workers N``). ``json`` renders one JSON object per line instead of logfmt.
    uvicorn must run with ``log_config=None`` and ``access_log=False``: its access log prints
    full URLs; :class:`bedside.web.access_log.AccessLog` writes a scrubbed one instead.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}")
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.processors.LogfmtRenderer(
            key_order=["timestamp", "level", "logger", "event"], drop_missing=True
        )
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *shared,
            structlog.stdlib.ExtraAdder(allow=sorted(ALLOWED_KEYS - _SET_BY_LOGGING)),
            _from_stdlib,
        ],
        processors=[scrub, structlog.processors.TimeStamper(fmt="iso", utc=True), renderer],
        pass_foreign_args=True,
        use_get_message=False,
    )
    handler = _ScrubbingHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    handler.setLevel(numeric)  # also for loggers with their own level (uvicorn's)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _ScrubbingHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    warnings.showwarning = _log_warning  # warnings quote source lines and values
    threading.excepthook = _log_thread_exception
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: IO[str] | None = None,
    line: str | None = None,
) -> None:
    """A warning's category and where it was raised; its text (which may quote values) is not
    logged."""
    logging.getLogger("py.warnings").warning(
        "warning",
        extra={"error_type": category.__name__, "location": f"{_short(filename)}:{lineno}"},
    )


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    """Uncaught exceptions in threads go through the scrubber, not straight to stderr."""
    if args.exc_value is None:
        return
    logging.getLogger("bedside.thread").error(
        "uncaught exception in a thread",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )

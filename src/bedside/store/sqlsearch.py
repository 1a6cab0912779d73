"""Translate a :class:`SearchQuery` into SQL over the index tables (ADR 0002).

Each clause becomes ``r.rid IN (SELECT rid FROM idx_<kind> WHERE param = ? AND ...)``; the values of
one clause are ORed inside that sub-select and clauses are ANDed. SQL uses ``?`` placeholders;
the PostgreSQL store rewrites them. Comparison rules are those of search.html#prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from bedside.fhir.compartment import Compartment
from bedside.fhir.search.extract import normalize
from bedside.fhir.search.query import Clause, Link, SearchQuery, SortKey
from bedside.fhir.search.values import RangeValue, ReferenceValue, TokenValue
from bedside.fhir.search.visibility import Visibility

__all__ = ["COLUMNS", "FROM", "Sql", "count", "page", "visibility", "where"]

COLUMNS: Final = (
    "r.rid, r.type, r.id, r.version, r.deleted, r.last_updated, r.seq, v.method, v.content"
)
FROM: Final = "resources r JOIN resource_versions v ON v.rid = r.rid AND v.version = r.version"

_TABLE: Final = {
    "token": "idx_token",
    "uri": "idx_token",
    "string": "idx_string",
    "date": "idx_date",
    "reference": "idx_reference",
    "quantity": "idx_quantity",
    "number": "idx_quantity",
}


@dataclass
class Sql:
    text: str = ""
    args: list[object] = field(default_factory=list)


def where(query: SearchQuery, snapshot: int, visible: Visibility | None) -> Sql:
    """The WHERE clause shared by the page query and the count query.

    The clause likeliest to match few rows (a reference such as ``patient=``, then an
    identifier, then anything but a plain code) drives the query as ``rid IN (...)``; the others
    are checked per candidate row with ``EXISTS``, probing the ``(rid, param)`` index. Without
    this, SQLite materializes every clause's full match list, e.g. every laboratory Observation
    of every patient for ``patient=X&category=laboratory``. A caller confined to one patient's
    compartment has that compartment drive instead, unless a reference clause already does.
    """
    parts = ["r.type = ?", "r.deleted = ?", "r.created_seq <= ?"]
    args: list[object] = [query.resource_type, False, snapshot]
    driving = _driving_clause(query.clauses)
    if visible is not None:
        drive = visible.covering_compartment() is not None and (
            driving is None or driving.param.kind != "reference"
        )
        if drive:
            driving = None
        access = visibility(visible, drive=drive)
        parts.append(access.text)
        args.extend(access.args)
    else:
        drive = False
    if query.compartment is not None:  # GET Patient/1/Observation: drives unless a reference does
        lead = not drive and (driving is None or driving.param.kind != "reference")
        if lead:
            driving = None
        comp = _compartment(query.compartment, drive=lead)
        parts.append(comp.text)
        args.extend(comp.args)
    for clause in query.clauses:
        sql = _clause(clause, drive=clause is driving)
        parts.append(sql.text)
        args.extend(sql.args)
    return Sql(" AND ".join(parts), args)


def _driving_clause(clauses: tuple[Clause, ...]) -> Clause | None:
    candidates = [
        c
        for c in clauses
        if c.param.code != "_id" and c.missing is None and c.modifier != "not" and c.link is None
    ]
    if not candidates:
        return None

    def rank(c: Clause) -> int:
        if c.param.kind == "reference":
            return 0
        if c.param.code == "identifier":
            return 1
        return 3 if c.param.kind == "token" else 2

    return min(candidates, key=rank)


def visibility(visible: Visibility, *, drive: bool = False) -> Sql:
    """SQL that is true for the rows ``r`` the caller may see (an OR over the alternatives).

    When every alternative is confined to some compartment, their union is tested first and may
    drive the query (``drive``); when they share one compartment it is tested only once.
    Granular-scope and label clauses are ``EXISTS`` probes.
    """
    if visible.nothing:
        return Sql("1 = 0", [])
    shared = visible.shared_compartment()
    cover = visible.covering_compartment()
    ors: list[str] = []
    args: list[object] = []
    for alt in visible.alternatives:
        ands: list[str] = []
        parts = [] if alt.compartment is None or shared else [_compartment(alt.compartment)]
        parts.extend(_clause(c, drive=False) for c in alt.clauses)
        for part in parts:
            ands.append(part.text)
            args.extend(part.args)
        if not ands:  # this alternative lets every row through
            ors, args = [], []
            break
        ors.append(" AND ".join(ands))
    body = Sql("(" + " OR ".join(f"({o})" for o in ors) + ")", args) if ors else None
    if cover is None:
        return body or Sql("1 = 1", [])
    comp = _compartment(cover, drive=drive)
    if body is None:
        return comp
    return Sql(f"{comp.text} AND {body.text}", [*comp.args, *body.args])


def _compartment(c: Compartment, *, drive: bool = False) -> Sql:
    """Rows in the compartment of one of ``c.patients``: a reference to one, or (Patient) one."""
    if c.empty:
        return Sql("1 = 0", [])
    marks = ", ".join("?" for _ in c.params)
    who = ", ".join("?" for _ in c.patients)
    refs = f"x.param IN ({marks}) AND x.target IN ({who}) AND x.target_type = ?"
    ref_args: list[object] = [*c.params, *c.patients, "Patient"]
    ors: list[str] = []
    args: list[object] = []
    if drive:
        if c.is_patient:
            ors.append(f"SELECT rid FROM resources WHERE type = ? AND id IN ({who})")
            args.extend(["Patient", *c.patients])
        if c.params:
            ors.append(f"SELECT x.rid FROM idx_reference x WHERE {refs}")
            args.extend(ref_args)
        return Sql(f"r.rid IN ({' UNION '.join(ors)})", args)
    if c.is_patient:
        ors.append(f"r.id IN ({who})")
        args.extend(c.patients)
    if c.params:
        ors.append(f"EXISTS (SELECT 1 FROM idx_reference x WHERE x.rid = r.rid AND {refs})")
        args.extend(ref_args)
    return Sql("(" + " OR ".join(ors) + ")", args)


def page(
    query: SearchQuery,
    snapshot: int,
    after: tuple[object, ...] | None,
    limit: int,
    visible: Visibility | None,
) -> tuple[Sql, int]:
    """The page query; returns the SQL and how many sort columns precede the row columns."""
    base = where(query, snapshot, visible)
    sort_exprs: list[tuple[str, list[object], bool]] = [_sort_expr(k) for k in query.sort]
    sort_exprs.append(("r.created_seq", [], False))
    select_extra = ", ".join(f"{e} AS s{i}" for i, (e, _, _) in enumerate(sort_exprs))
    args: list[object] = []
    for _, eargs, _ in sort_exprs:
        args.extend(eargs)
    text = f"SELECT {COLUMNS}, {select_extra} FROM {FROM} WHERE {base.text}"
    args.extend(base.args)
    if after is not None:
        keyset, kargs = _keyset(sort_exprs, after)
        text += f" AND ({keyset})"
        args.extend(kargs)
    order = ", ".join(
        f"s{i} {'DESC' if desc else 'ASC'}" for i, (_, _, desc) in enumerate(sort_exprs)
    )
    text += f" ORDER BY {order} LIMIT ?"
    args.append(limit)
    return Sql(text, args), len(sort_exprs)


def count(query: SearchQuery, snapshot: int, visible: Visibility | None) -> Sql:
    base = where(query, snapshot, visible)
    return Sql(f"SELECT COUNT(*) FROM resources r WHERE {base.text}", base.args)


def _keyset(
    sort_exprs: list[tuple[str, list[object], bool]], after: tuple[object, ...]
) -> tuple[str, list[object]]:
    """Rows strictly after ``after`` in the sort order (expanded row-value comparison)."""
    ors: list[str] = []
    args: list[object] = []
    for i, (expr, eargs, desc) in enumerate(sort_exprs):
        conds: list[str] = []
        for j in range(i):
            conds.append(f"{sort_exprs[j][0]} = ?")
            args.extend(sort_exprs[j][1])
            args.append(after[j])
        conds.append(f"{expr} {'<' if desc else '>'} ?")
        args.extend(eargs)
        args.append(after[i])
        ors.append("(" + " AND ".join(conds) + ")")
    return " OR ".join(ors), args


_OWN: Final = "WHERE x.rid = r.rid AND x.param = ?"
_SORT_NULL_LOW: Final = -(2**62)
_SORT_NULL_HIGH: Final = 2**62


def _sort_expr(key: SortKey) -> tuple[str, list[object], bool]:
    if key.code == "_id":
        return "r.id", [], key.descending
    if key.code == "_lastUpdated":
        return "r.last_updated", [], key.descending
    assert key.param is not None
    kind = key.param.kind
    table = _TABLE[kind]
    if kind == "date":
        agg, col = ("MAX", "high") if key.descending else ("MIN", "low")
        null = _SORT_NULL_LOW if key.descending else _SORT_NULL_HIGH
        expr = f"COALESCE((SELECT {agg}(x.{col}) FROM {table} x {_OWN}), {null})"
    elif kind in ("quantity", "number"):
        agg = "MAX" if key.descending else "MIN"
        null = _SORT_NULL_LOW if key.descending else _SORT_NULL_HIGH
        expr = f"COALESCE((SELECT {agg}(x.value) FROM {table} x {_OWN}), {null})"
    else:
        col = "norm" if kind == "string" else "code"
        agg = "MAX" if key.descending else "MIN"
        expr = f"COALESCE((SELECT {agg}(x.{col}) FROM {table} x {_OWN}), '')"
    return expr, [key.param.key], key.descending


def _clause(clause: Clause, *, drive: bool) -> Sql:
    param = clause.param
    if clause.link is not None:
        return _link(clause.link)
    if param.code == "_id":
        return _id_clause(clause)
    table = _TABLE[param.kind]
    if clause.missing is not None:
        op = "NOT EXISTS" if clause.missing else "EXISTS"
        return Sql(f"{op} (SELECT 1 FROM {table} x {_OWN})", [param.key])
    ors: list[str] = []
    args: list[object] = [param.key]
    for value in clause.values:
        text, vargs = _value(param.kind, clause.modifier, value)
        ors.append(text)
        args.extend(vargs)
    body = " OR ".join(f"({o})" for o in ors)
    if drive:
        return Sql(f"r.rid IN (SELECT rid FROM {table} WHERE param = ? AND ({body}))", args)
    op = "NOT EXISTS" if clause.modifier == "not" else "EXISTS"
    return Sql(f"{op} (SELECT 1 FROM {table} x {_OWN} AND ({body}))", args)


def _link(link: Link) -> Sql:
    """A chain or ``_has`` (search.html#chaining, #has): a reference to, or from, a row of a
    branch's type that matches the branch's clause and that the caller may see.

    The inner ``SELECT ... FROM resources r`` shadows the outer row ``r``, so the inner clause
    and visibility SQL (written for ``r``) apply to the other type's rows; the sub-select is
    uncorrelated, so the database evaluates it once.
    """
    ors: list[str] = []
    args: list[object] = [link.param.key]
    for branch in link.branches:
        inner = _clause(branch.inner, drive=False)
        if not branch.bound:  # deny by default: a branch nobody decided the visibility of
            see = Sql("1 = 0", [])
        else:
            see = visibility(branch.visible) if branch.visible is not None else Sql("1 = 1", [])
        rows = (
            f"FROM resources r WHERE r.type = ? AND r.deleted = ? AND {inner.text} AND {see.text}"
        )
        if link.reverse:
            ors.append(f"x.rid IN (SELECT r.rid {rows})")
            args.extend([branch.resource_type, False, *inner.args, *see.args])
        else:
            ors.append(f"(x.target_type = ? AND x.target IN (SELECT r.id {rows}))")
            args.extend([branch.resource_type, branch.resource_type, False])
            args.extend([*inner.args, *see.args])
    body = " OR ".join(ors)
    if link.reverse:
        where = "x.target = r.id AND x.target_type = r.type AND x.param = ?"
    else:
        where = "x.rid = r.rid AND x.param = ?"
    return Sql(f"EXISTS (SELECT 1 FROM idx_reference x WHERE {where} AND ({body}))", args)


def _id_clause(clause: Clause) -> Sql:
    if clause.missing is not None:  # every resource has an id
        return Sql("1 = 0" if clause.missing else "1 = 1", [])
    ids = [v.code for v in clause.values if isinstance(v, TokenValue) and v.code]
    marks = ", ".join("?" for _ in ids) or "NULL"
    op = "NOT IN" if clause.modifier == "not" else "IN"
    return Sql(f"r.id {op} ({marks})", list(ids))


def _value(kind: str, modifier: str | None, value: object) -> tuple[str, list[object]]:
    if isinstance(value, TokenValue):
        return _token(value)
    if isinstance(value, ReferenceValue):
        if value.target_type:
            return "target = ? AND target_type = ?", [value.target, value.target_type]
        return "target = ?", [value.target]
    if isinstance(value, RangeValue):
        return _date(value) if kind == "date" else _number(value)
    assert isinstance(value, str)
    if kind == "uri":
        return "code = ?", [value]
    if modifier == "exact":
        return "exact = ?", [value]
    pattern = _like_escape(normalize(value))
    if modifier == "contains":
        return "norm LIKE ? ESCAPE '\\'", [f"%{pattern}%"]
    return "norm LIKE ? ESCAPE '\\'", [f"{pattern}%"]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _token(value: TokenValue) -> tuple[str, list[object]]:
    if value.system is None:
        return "code = ?", [value.code]
    if value.system == "":
        return "code = ? AND (system IS NULL OR system = '')", [value.code]
    if value.code is None:
        return "system = ?", [value.system]
    return "code = ? AND system = ?", [value.code, value.system]


def _date(v: RangeValue) -> tuple[str, list[object]]:
    lo, hi = int(v.low), int(v.high)
    rules: dict[str, tuple[str, list[object]]] = {
        "eq": ("low >= ? AND high <= ?", [lo, hi]),
        "ne": ("NOT (low >= ? AND high <= ?)", [lo, hi]),
        "gt": ("high > ?", [hi]),
        "lt": ("low < ?", [lo]),
        # ge/le: gt/lt, or the search range fully contains the target (search.html#prefix)
        "ge": ("high > ? OR (low >= ? AND high <= ?)", [hi, lo, hi]),
        "le": ("low < ? OR (low >= ? AND high <= ?)", [lo, lo, hi]),
        "sa": ("low > ?", [hi]),
        "eb": ("high < ?", [lo]),
    }
    if v.prefix == "ap":
        slack = max((hi - lo) // 10, 86_400_000)
        return "low <= ? AND high >= ?", [hi + slack, lo - slack]
    return rules[v.prefix]


def _number(v: RangeValue) -> tuple[str, list[object]]:
    rules: dict[str, tuple[str, list[object]]] = {
        "eq": ("value >= ? AND value < ?", [v.low, v.high]),
        "ne": ("NOT (value >= ? AND value < ?)", [v.low, v.high]),
        "gt": ("value > ?", [v.value]),
        "lt": ("value < ?", [v.value]),
        "ge": ("value >= ?", [v.value]),
        "le": ("value <= ?", [v.value]),
        "sa": ("value > ?", [v.value]),
        "eb": ("value < ?", [v.value]),
        "ap": ("value >= ? AND value <= ?", [*sorted((v.value * 0.9, v.value * 1.1))]),
    }
    text, args = rules[v.prefix]
    if v.system is not None:
        text += " AND system = ?"
        args.append(v.system)
    if v.code is not None:
        text += " AND code = ?"
        args.append(v.code)
    return text, args

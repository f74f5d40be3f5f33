"""A fluent query builder on pypika that never inlines a value.

pypika renders values into the SQL text by default. Here every value becomes a
placeholder: while building, values get unique markers `%(pN)s`; once pypika has
rendered the statement, the markers are renumbered in the order they appear and
replaced by `%s`, so `to_sql()` returns `(sql, params)` for psycopg. Identifiers
are checked against a strict pattern and quoted by pypika.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, overload

from infrakit.errors import ValidationError, json_pointer

if TYPE_CHECKING:
    from infrakit.db._executor import Executor

__all__ = ["BuilderCore", "QueryBuilder"]

RowT = TypeVar("RowT")
JoinKind = Literal["inner", "left", "right", "full"]
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_MARKER = re.compile(r"%%|%\(p(\d+)\)s")
_FRAGMENT_TOKEN = re.compile(r"%%|%s|%")
_DIRECTIONS = {"ASC": "asc", "DESC": "desc"}


def _invalid(clause: str, detail: str) -> ValidationError:
    """A `ValidationError` pointing at the builder method (`#/order_by`), never the value."""
    return ValidationError(
        f"Invalid query: {detail}.",
        errors=[{"pointer": json_pointer([clause]), "detail": detail}],
    )


def _name(value: object, clause: str, *, max_parts: int = 2) -> list[str]:
    """Split `schema.table` / `table.column`, refusing anything but plain identifiers."""
    parts = value.split(".") if isinstance(value, str) else []
    if not parts or len(parts) > max_parts or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise _invalid(clause, "not a valid SQL identifier")
    return parts


def _column(value: object, clause: str) -> None:
    """A column reference: `column`, `table.column` or `schema.table.column`."""
    _name(value, clause, max_parts=3)


def _columns(value: str | Sequence[str], clause: str) -> tuple[str, ...]:
    """One column name, or a list of them: a string is one name, never its characters."""
    names = (value,) if isinstance(value, str) else tuple(value)
    for name in names:
        _name(name, clause, max_parts=1)
    return names


def _count(value: object, clause: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _invalid(clause, "must be a non-negative integer")
    return value


@dataclass(frozen=True, slots=True)
class _Condition:
    kind: Literal["raw", "equals", "in"]
    text: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Conflict:
    columns: tuple[str, ...]
    update: tuple[str, ...] | Mapping[str, Any] | None


class _Parameters:
    """Hands out unique markers and remembers the value behind each."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> Any:
        from pypika import Parameter

        self.values.append(value)
        return Parameter(f"%(p{len(self.values) - 1})s")

    def fragment(self, sql: str, values: tuple[Any, ...]) -> str:
        """Give each `%s` of a trusted SQL fragment its own marker; `%%` stays literal."""
        supplied = iter(values)

        def substitute(match: re.Match[str]) -> str:
            token = match.group(0)
            if token == "%%":
                return token
            if token == "%":
                raise _invalid("where", "use %s placeholders and %% for a literal percent")
            try:
                value = next(supplied)
            except StopIteration:
                raise _invalid("where", "fewer values than %s placeholders") from None
            return str(self.add(value).placeholder)

        text = _FRAGMENT_TOKEN.sub(substitute, sql)
        if next(supplied, _END) is not _END:
            raise _invalid("where", "more values than %s placeholders")
        return text

    def ordered(self, sql: str) -> tuple[str, tuple[Any, ...]]:
        """Replace markers by `%s` in the order they appear, with the matching values."""
        ordered: list[Any] = []

        def positional(match: re.Match[str]) -> str:
            if match.group(1) is None:
                return "%%"
            ordered.append(self.values[int(match.group(1))])
            return "%s"

        return _MARKER.sub(positional, sql), tuple(ordered)


_END = object()


@dataclass(frozen=True, slots=True)
class _State:
    table: str
    action: Literal["select", "insert", "update", "delete"] = "select"
    columns: tuple[str, ...] = ("*",)
    conditions: tuple[_Condition, ...] = ()
    joins: tuple[tuple[str, str, str, JoinKind], ...] = ()
    orders: tuple[tuple[str, str], ...] = ()
    limit: int | None = None
    offset: int | None = None
    rows: tuple[Mapping[str, Any], ...] = ()
    returning: tuple[str, ...] = ()
    conflict: _Conflict | None = None
    all_rows: bool = False


class BuilderCore:
    """The building half of `QueryBuilder`, shared by the async and the blocking form."""

    def __init__(self, executor: Any, table: str, state: _State | None = None) -> None:
        _name(table, "table")
        self._executor = executor
        self._state = state or _State(table=table)

    def _with(self, **changes: Any) -> Self:
        return type(self)(self._executor, self._state.table, replace(self._state, **changes))

    # -- building ---------------------------------------------------------------------

    def select(self, columns: Sequence[str] | str = "*") -> Self:
        """The columns to return; each may be qualified (`users.id`, `app.users.id`)."""
        names = (columns,) if isinstance(columns, str) else tuple(columns)
        for name in names:
            if name != "*":
                _column(name, "select")
        return self._with(action="select", columns=names or ("*",))

    def where(self, condition: str | None = None, /, *values: Any, **equals: Any) -> Self:
        """Add `AND` conditions: a trusted fragment with `%s` values, and/or `column=value`.

        `column=None` becomes `column IS NULL`.
        """
        if condition is not None and not isinstance(condition, str):
            raise _invalid("where", "the condition must be a SQL fragment string")
        added = [_Condition("raw", condition, values)] if condition is not None else []
        if condition is None and values:
            raise _invalid("where", "values given without a SQL fragment")
        for column, value in equals.items():
            _column(column, "where")
            added.append(_Condition("equals", column, (value,)))
        return self._with(conditions=self._state.conditions + tuple(added))

    def where_in(self, column: str, values: Sequence[Any]) -> Self:
        """`column IN (...)`; an empty sequence matches no row."""
        _column(column, "where_in")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise _invalid("where_in", "values must be a list or tuple, not a single value")
        condition = _Condition("in", column, tuple(values))
        return self._with(conditions=(*self._state.conditions, condition))

    def join(self, table: str, left: str, right: str, *, kind: JoinKind = "inner") -> Self:
        """`JOIN table ON left = right`, e.g. `join("orders", "orders.user_id", "users.id")`."""
        _name(table, "join")
        _column(left, "join")
        _column(right, "join")
        if kind not in ("inner", "left", "right", "full"):
            raise _invalid("join", "kind must be inner, left, right or full")
        return self._with(joins=(*self._state.joins, (table, left, right, kind)))

    def order_by(self, column: str, direction: str = "ASC") -> Self:
        """Sort by `column` (qualified or not, like `select`), ascending or descending."""
        _column(column, "order_by")
        normalised = direction.upper() if isinstance(direction, str) else ""
        if normalised not in _DIRECTIONS:
            raise _invalid("order_by", "direction must be ASC or DESC")
        return self._with(orders=(*self._state.orders, (column, normalised)))

    def limit(self, count: int) -> Self:
        return self._with(limit=_count(count, "limit"))

    def offset(self, count: int) -> Self:
        return self._with(offset=_count(count, "offset"))

    def insert(self, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Self:
        """Insert one row (a mapping) or several with the same columns."""
        batch = (rows,) if isinstance(rows, Mapping) else tuple(rows)
        if not batch or not batch[0]:
            raise _invalid("insert", "nothing to insert")
        keys = list(batch[0])
        for column in keys:
            _name(column, "insert", max_parts=1)
        if any(list(row) != keys for row in batch):
            raise _invalid("insert", "every row needs the same columns in the same order")
        return self._with(action="insert", rows=batch)

    def update(self, values: Mapping[str, Any], *, all_rows: bool = False) -> Self:
        """`UPDATE ... SET`; without a `where`, refuses to run unless `all_rows=True`."""
        if not values:
            raise _invalid("update", "nothing to update")
        for column in values:
            _name(column, "update", max_parts=1)
        return self._with(action="update", rows=(dict(values),), all_rows=all_rows)

    def delete(self, *, all_rows: bool = False) -> Self:
        """`DELETE`; without a `where`, refuses to run unless `all_rows=True`."""
        return self._with(action="delete", all_rows=all_rows)

    def returning(self, *columns: str) -> Self:
        for column in columns:
            if column != "*":
                _name(column, "returning", max_parts=1)
        return self._with(returning=columns)

    def on_conflict(
        self, *columns: str, update: str | Sequence[str] | Mapping[str, Any] | None = None
    ) -> Self:
        """`ON CONFLICT (columns) DO NOTHING`, or `DO UPDATE` of the named columns.

        `update="name"` or `update=["name"]` sets `name = EXCLUDED.name` (a string is one
        column, never split into characters); `update={"hits": 0}` sets values.
        """
        _columns(columns, "on_conflict")
        chosen: tuple[str, ...] | Mapping[str, Any] | None = None
        if isinstance(update, Mapping):
            _columns(tuple(update), "on_conflict")
            chosen = update
        elif update is not None:
            chosen = _columns(update, "on_conflict")
        if chosen is not None and not columns:
            raise _invalid("on_conflict", "DO UPDATE needs the conflicting columns")
        if chosen is not None and not chosen:
            raise _invalid("on_conflict", "nothing to update; pass update=None for DO NOTHING")
        return self._with(conflict=_Conflict(tuple(columns), chosen))

    # -- rendering --------------------------------------------------------------------

    def to_sql(self) -> tuple[str, tuple[Any, ...]]:
        """The statement with `%s` placeholders and its parameters, in order."""
        from infrakit.db._render import render

        parameters = _Parameters()
        return parameters.ordered(render(self._state, parameters))

    def _count_sql(self) -> tuple[str, tuple[Any, ...]]:
        from infrakit.db._render import render_count

        self._require_select("count")
        parameters = _Parameters()
        return parameters.ordered(render_count(self._state, parameters))

    def _require_select(self, clause: str) -> None:
        if self._state.action != "select":
            raise _invalid(clause, f"needs a select, not {self._state.action}")

    # -- running ----------------------------------------------------------------------

    def _one_sql(self) -> tuple[str, tuple[Any, ...]]:
        """A select gets `LIMIT 1` unless it has a limit."""
        query = self
        if self._state.action == "select" and self._state.limit is None:
            query = self.limit(1)
        return query.to_sql()

    def _exists_sql(self) -> tuple[str, tuple[Any, ...]]:
        self._require_select("exists")
        sql, params = self.select("*").limit(1).to_sql()
        return f"SELECT EXISTS ({sql})", params


class QueryBuilder(BuilderCore):
    """`db.query_builder("users").select(["id"]).where(active=True).limit(10)`.

    Every method returns a new builder (a base query can be reused safely).
    Values are always parameters. `where("age > %s", 18)` takes a trusted SQL
    fragment written by the programmer: its `%s` values are parameters, but the
    fragment text itself is SQL, so never build it from user input.
    """

    _executor: Executor

    @overload
    async def get_many(self, *, row_type: None = None) -> list[dict[str, Any]]: ...

    @overload
    async def get_many(self, *, row_type: type[RowT]) -> list[RowT]: ...

    async def get_many(self, *, row_type: type[Any] | None = None) -> list[Any]:
        """Every matching row, as dicts or as `row_type`."""
        return await self._executor.fetch_all(*self.to_sql(), row_type=row_type)

    @overload
    async def get_one(self, *, row_type: None = None) -> dict[str, Any] | None: ...

    @overload
    async def get_one(self, *, row_type: type[RowT]) -> RowT | None: ...

    async def get_one(self, *, row_type: type[Any] | None = None) -> Any:
        """The first row or None (a select gets `LIMIT 1` unless it has a limit)."""
        return await self._executor.fetch_one(*self._one_sql(), row_type=row_type)

    async def count(self) -> int:
        """Rows matching the conditions and joins (limit and offset ignored).

        Raises:
            ValidationError: on an insert / update / delete builder, which it would run.
        """
        return int(await self._executor.fetch_value(*self._count_sql()))

    async def exists(self) -> bool:
        """Whether any row matches (a select builder only, like `count()`)."""
        return bool(await self._executor.fetch_value(*self._exists_sql()))

    async def execute(self) -> int:
        """Run an insert / update / delete; returns the affected row count."""
        return await self._executor.execute(*self.to_sql())

"""Render a query builder's state with pypika; values arrive only as parameter markers.

Imported on the first `to_sql()`, so a missing pypika surfaces there as
`MissingDependencyError`, never when `infrakit.db` is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infrakit.errors import ValidationError, import_optional, json_pointer

if TYPE_CHECKING:
    from infrakit.db._query_builder import _Condition, _Parameters, _State

__all__ = ["render", "render_count"]


pypika: Any = import_optional("pypika", extra="postgres")
terms: Any = import_optional("pypika.terms", extra="postgres")
functions: Any = import_optional("pypika.functions", extra="postgres")


class _Raw(terms.Criterion):  # type: ignore[misc]
    """A trusted SQL fragment, already holding only parameter markers."""

    def __init__(self, sql: str) -> None:
        super().__init__()
        self.sql = sql

    def get_sql(self, **kwargs: Any) -> str:
        return f"({self.sql})"


def _table(name: str) -> Any:
    schema, _, table = name.rpartition(".")
    return pypika.Table(table, schema=schema or None)


class _QualifiedColumn(terms.Term):  # type: ignore[misc]
    """`"schema"."table"."column"`, always written whole.

    pypika drops a field's table when the query has one table (and cannot name a
    schema at all), so `select(["orders.total"])` would silently read `users.total`.
    The parts are checked identifiers, so quoting them cannot break out.
    """

    def __init__(self, parts: list[str]) -> None:
        super().__init__()
        self.parts = parts

    def get_sql(self, quote_char: str | None = '"', **kwargs: Any) -> str:
        quote = quote_char or ""
        return ".".join(f"{quote}{part}{quote}" for part in self.parts)


def _field(name: str) -> Any:
    parts = name.split(".")
    return pypika.Field(name) if len(parts) == 1 else _QualifiedColumn(parts)


def _criterion(condition: _Condition, parameters: _Parameters) -> Any:
    if condition.kind == "raw":
        return _Raw(parameters.fragment(condition.text, condition.values))
    field = _field(condition.text)
    if condition.kind == "in":
        if not condition.values:
            return _Raw("FALSE")
        return field.isin([parameters.add(value) for value in condition.values])
    (value,) = condition.values
    if value is None:
        return field.isnull()
    return field == parameters.add(value)


def _refuse_unused_clauses(state: _State) -> None:
    """A clause the statement cannot honour is an error, never silently dropped.

    `delete().where(...).limit(1)` would otherwise delete every matching row.
    """
    clauses = {
        "join": bool(state.joins) and state.action != "select",
        "order_by": bool(state.orders) and state.action != "select",
        "limit": state.limit is not None and state.action != "select",
        "offset": state.offset is not None and state.action != "select",
        "where": bool(state.conditions) and state.action == "insert",
        "on_conflict": state.conflict is not None and state.action != "insert",
        "returning": bool(state.returning) and state.action == "select",
    }
    for clause, unused in clauses.items():
        if unused:
            raise ValidationError(
                f"Invalid query: {clause}() does not apply to {state.action}.",
                errors=[
                    {
                        "pointer": json_pointer([clause]),
                        "detail": f"not supported by {state.action}",
                    }
                ],
            )


def _base(state: _State, parameters: _Parameters) -> Any:
    _refuse_unused_clauses(state)
    table = _table(state.table)
    query = pypika.PostgreSQLQuery
    if state.action == "insert":
        builder = query.into(table).columns(*state.rows[0])
        for row in state.rows:
            builder = builder.insert(*(parameters.add(value) for value in row.values()))
        return _with_conflict(builder, state, parameters)
    if state.action == "update":
        builder = query.update(table)
        for column, value in state.rows[0].items():
            builder = builder.set(pypika.Field(column), parameters.add(value))
    elif state.action == "delete":
        builder = query.from_(table).delete()
    else:
        builder = query.from_(table)
        for joined, left, right, kind in state.joins:
            how = getattr(pypika.JoinType, "outer" if kind == "full" else kind)
            builder = builder.join(_table(joined), how=how).on(_field(left) == _field(right))
    for condition in state.conditions:
        builder = builder.where(_criterion(condition, parameters))
    if state.action in ("update", "delete") and not state.conditions and not state.all_rows:
        raise ValidationError(
            f"Refusing to {state.action} every row without a where(); pass all_rows=True.",
            errors=[{"pointer": json_pointer([state.action]), "detail": "no where() condition"}],
        )
    return builder


def _with_conflict(builder: Any, state: _State, parameters: _Parameters) -> Any:
    conflict = state.conflict
    if conflict is None:
        return builder
    builder = builder.on_conflict(*conflict.columns)
    if conflict.update is None:
        return builder.do_nothing()
    if isinstance(conflict.update, tuple):
        for column in conflict.update:
            builder = builder.do_update(column)
        return builder
    for column, value in conflict.update.items():
        builder = builder.do_update(column, parameters.add(value))
    return builder


def render(state: _State, parameters: _Parameters) -> str:
    builder = _base(state, parameters)
    if state.action == "select":
        fields = [terms.Star() if name == "*" else _field(name) for name in state.columns]
        builder = builder.select(*fields)
        for column, direction in state.orders:
            builder = builder.orderby(
                _field(column), order=getattr(pypika.Order, direction.lower())
            )
    if state.returning:
        builder = builder.returning(*(terms.Star() if c == "*" else c for c in state.returning))
    sql = str(builder.get_sql())
    if state.action == "select":
        if state.limit is not None:
            sql += f" LIMIT {parameters.add(state.limit).placeholder}"
        if state.offset is not None:
            sql += f" OFFSET {parameters.add(state.offset).placeholder}"
    return sql


def render_count(state: _State, parameters: _Parameters) -> str:
    builder = _base(state, parameters).select(functions.Count(terms.Star()))
    return str(builder.get_sql())

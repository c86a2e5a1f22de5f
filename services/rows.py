"""Writing one object's row with one statement, where the unit of work would cost too much.

Adding an object and flushing it costs several times the INSERT the flush sends (the unit of
work sorts, cascades and tracks history); on the path every sign-up takes, that was most of
the work. `insert` sends the INSERT itself (every column as the object holds it, a column left
unset given its default on the object first, as the INSERT would; RETURNING the primary key)
and puts the object into the session as if it had been read there:
`sqlalchemy.orm.make_transient_to_detached`, then `Session.add`, the ORM's own way to
"manufacture a persistent state without any SQL". From then on it is an object like any
other: relationships set on it are loaded, changes to it are flushed as usual.

One difference from an object flushed by the unit of work: after a rollback it stays in the
session (expired, like every object read in the rolled-back unit of work) instead of being
taken out. Whoever keeps track of what a unit of work wrote keys it by that unit of work; and
should the database give the same id out again (SQLite does, after a rollback), the object
left over takes the new row's state, as it would on a read.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Column, Insert, Table, inspect
from sqlalchemy.orm import Session, make_transient_to_detached

T = TypeVar("T")


def insert_statement(model: type[Any]) -> Insert:
    """INSERT ... RETURNING the primary key, for `insert`; build it once. (An ON CONFLICT DO
    NOTHING for `insert_unless_conflict` is made from the dialect's insert the same way.)"""
    table: Table = model.__table__
    return table.insert().returning(*table.primary_key.columns)


def insert(session: Session, obj: T, statement: Insert) -> T:
    """Write the new object `obj` with `statement` (from `insert_statement`) and return it,
    persistent in the session.

    Columns are written as set on `obj`, foreign keys included (a relationship set on it is
    kept, but does not set its key); a column left unset gets its default, set on `obj` too.
    """
    written = insert_unless_conflict(session, obj, statement)
    if written is None:
        raise RuntimeError(f"{statement} wrote no row")
    return written


def insert_unless_conflict(
    session: Session,
    obj: T,
    statement: Insert,
    *,
    computed: tuple[str, ...] = (),
    params: dict[str, Any] | None = None,
) -> T | None:
    """As `insert`, for a statement with ON CONFLICT DO NOTHING: None when it wrote no row,
    and then `obj` stays out of the session.

    `computed` names the columns whose value the statement works out itself (in its VALUES, by
    an SQL expression): they are not sent, and the statement RETURNs them after the primary
    key, in that order, for `obj` to take. `params` are the bound parameters of those
    expressions.
    """
    written = insert_returning(session, obj, statement, computed=computed, params=params)
    return None if written is None else written[0]


def insert_returning(
    session: Session,
    obj: T,
    statement: Insert,
    *,
    computed: tuple[str, ...] = (),
    params: dict[str, Any] | None = None,
) -> tuple[T, tuple[Any, ...]] | None:
    """As `insert_unless_conflict`, for a statement that RETURNs more after the primary key and
    the computed columns (what the statement read as it wrote, in its own snapshot): the object
    and those further values, or None when it wrote no row."""
    state = inspect(obj)
    mapper = state.mapper
    values = dict(params or {})
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if prop.key in computed:
            continue
        if prop.key not in state.dict:
            if column.primary_key:
                continue  # the database gives it
            setattr(obj, prop.key, _default(column))
        values[column.key] = state.dict[prop.key]
    # On the session's connection: the statement is Core, the session's execute would only add its bookkeeping.
    row = session.connection().execute(statement, values).first()
    if row is None:
        return None
    returned = [mapper.get_property_by_column(column).key for column in mapper.primary_key] + list(computed)
    for key, value in zip(returned, row, strict=False):
        setattr(obj, key, value)
    further = tuple(row[len(returned) :])
    make_transient_to_detached(obj)
    if state.key in session.identity_map:
        # An object of a unit of work rolled back earlier in this session, whose id the
        # database gave out again: it takes this row's state, as it would on a read.
        return session.merge(obj, load=False), further
    session.add(obj)
    return obj, further


def _default(column: Column[Any]) -> Any:
    """What the INSERT would write for an unset column: its default made in Python, or NULL."""
    default = column.default
    python_default = default is not None and (default.is_scalar or default.is_callable)
    if not python_default and (column.server_default is not None or default is not None):
        raise ValueError(f"{column} gets its value from the database: set it on the object")
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg  # type: ignore[attr-defined]

"""PostgreSQL access on psycopg 3: pooled queries, retrying transactions, a parameter-safe
query builder, migrations and statistics.

Importing this package needs only pydantic; psycopg, psycopg_pool and pypika (the
`postgres` extra) are imported when a pool opens or a query is built, and their
absence raises `MissingDependencyError` naming `pip install 'infrakit[postgres]'`.
Only the names in `__all__` are public.
"""

from infrakit.db._database import Database, DatabaseHealth
from infrakit.db._errors import (
    CheckViolationError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    ForeignKeyViolationError,
    InvalidDataError,
    MigrationError,
    NotNullViolationError,
    TransactionConflictError,
    UniqueViolationError,
)
from infrakit.db._executor import QueryResult
from infrakit.db._protocol import DatabaseProtocol, Isolation, Queryable
from infrakit.db._query_builder import QueryBuilder
from infrakit.db._settings import DatabaseSettings
from infrakit.db._stats import ConnectionStats
from infrakit.db._transaction import Transaction, TransactionScope

__all__ = [
    "CheckViolationError",
    "ConnectionStats",
    "Database",
    "DatabaseHealth",
    "DatabaseProtocol",
    "DatabaseSettings",
    "DatabaseTimeoutError",
    "DatabaseUnavailableError",
    "ForeignKeyViolationError",
    "InvalidDataError",
    "Isolation",
    "MigrationError",
    "NotNullViolationError",
    "QueryBuilder",
    "QueryResult",
    "Queryable",
    "Transaction",
    "TransactionConflictError",
    "TransactionScope",
    "UniqueViolationError",
]

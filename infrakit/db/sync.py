"""Blocking twins for WSGI apps and scripts: the same names as `infrakit.db`.

`infrakit.db.sync.Database` runs on psycopg's synchronous `Connection` and
`psycopg_pool.ConnectionPool` (no event loop anywhere). Its settings, statistics,
error translation, masking, SQL building and retry policy are the async form's own
code (`docs/design.md`, "The async naming rule"); only the I/O calls differ.
Only the names in `__all__` are public; see `docs/db.md`, "From synchronous code".
"""

from infrakit.db._blocking import Database, QueryBuilder, Transaction, TransactionScope
from infrakit.db._database import DatabaseHealth
from infrakit.db._executor import QueryResult

__all__ = [
    "Database",
    "DatabaseHealth",
    "QueryBuilder",
    "QueryResult",
    "Transaction",
    "TransactionScope",
]

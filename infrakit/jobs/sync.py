"""Blocking twins for scripts and WSGI views: the same names as `infrakit.jobs`.

`infrakit.jobs.sync.JobQueue` enqueues and inspects jobs without an event loop. It
does not copy the async queue: it drives the async `JobQueue`'s own coroutines over
stores whose I/O is blocking (the standard `sqlite3` connection, psycopg's
synchronous pool), so those coroutines never suspend. Workers stay async.
Only the names in `__all__` are public; see `docs/jobs.md`.
"""

from infrakit.jobs._sync import JobQueue, PostgresJobStorage, SqliteJobStorage
from infrakit.jobs.memory import MemoryJobStorage

__all__ = ["JobQueue", "MemoryJobStorage", "PostgresJobStorage", "SqliteJobStorage"]

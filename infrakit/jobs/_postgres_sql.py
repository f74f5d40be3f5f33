"""The PostgreSQL store's statements, one per hot operation, each a single round trip.

Data-modifying CTEs do the state change, the counter deltas and the NOTIFY in one
statement, so in autocommit each is its own transaction: counters never drift from
the rows they count. Counters are append-only delta rows (no hot row to lock under
concurrent workers), summed by `get_stats` and compacted by `maintain`.
"""

from __future__ import annotations

__all__ = ["CLAIM", "COMPLETE", "INSERT", "JOB_COLUMNS", "SCHEMA_V1"]

JOB_COLUMNS = (
    "id, job_type, status, priority, run_at, data, result, last_error, blocked_reason, "
    "attempts, max_attempts, backoff, timeout, depends_on, on_parent_failure, lease_token, "
    "created_at, started_at, finished_at"
)


def _counted(source: str, moves: str) -> str:
    """Counter deltas for the rows of CTE `source` moving as `moves` (status, sign)."""
    return (
        "INSERT INTO {s}.job_counts (job_type, status, delta) "
        f"SELECT m.job_type, t.status, t.sign * m.n "
        f"FROM (SELECT job_type, count(*) AS n FROM {source} GROUP BY job_type) m "
        f"CROSS JOIN (VALUES {moves}) AS t(status, sign)"
    )


SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS {s}.jobs (
    id text PRIMARY KEY,
    job_type text NOT NULL,
    status text NOT NULL,
    priority integer NOT NULL,
    run_at timestamptz NOT NULL,
    data jsonb NOT NULL,
    result jsonb,
    last_error text,
    blocked_reason text,
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    backoff jsonb NOT NULL,
    timeout double precision,
    depends_on text[] NOT NULL DEFAULT '{{}}',
    on_parent_failure text NOT NULL DEFAULT 'fail',
    pending_parents integer NOT NULL DEFAULT 0,
    lease_token bigint NOT NULL DEFAULT 0,
    locked_until timestamptz,
    worker_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS jobs_ready ON {s}.jobs (priority, run_at) WHERE status = 'waiting';
CREATE INDEX IF NOT EXISTS jobs_delayed ON {s}.jobs (run_at) WHERE status = 'delayed';
CREATE INDEX IF NOT EXISTS jobs_leased ON {s}.jobs (locked_until) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS jobs_finished ON {s}.jobs (finished_at)
    WHERE status IN ('completed', 'failed', 'cancelled');
CREATE TABLE IF NOT EXISTS {s}.job_dependencies (
    parent_id text NOT NULL,
    child_id text NOT NULL,
    PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX IF NOT EXISTS job_dependencies_child ON {s}.job_dependencies (child_id);
CREATE TABLE IF NOT EXISTS {s}.job_counts (
    job_type text NOT NULL,
    status text NOT NULL,
    delta bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS job_counts_type ON {s}.job_counts (job_type);
CREATE TABLE IF NOT EXISTS {s}.job_queues (job_type text PRIMARY KEY, paused boolean NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.job_schedules (
    name text PRIMARY KEY,
    job_type text NOT NULL,
    data jsonb NOT NULL,
    cron text NOT NULL,
    timezone text NOT NULL,
    next_run_at timestamptz NOT NULL,
    options jsonb NOT NULL
);
"""

INSERT = (
    "WITH input AS ("
    " SELECT * FROM unnest(%(ids)s::text[], %(types)s::text[], %(statuses)s::text[],"
    " %(priorities)s::int[], %(run_ats)s::float8[], %(data)s::jsonb[], %(reasons)s::text[],"
    " %(attempts)s::int[], %(backoffs)s::jsonb[], %(timeouts)s::float8[],"
    " %(parents)s::text[], %(policies)s::text[], %(pending)s::int[])"
    " AS t(id, job_type, status, priority, run_at, data, reason, max_attempts, backoff, timeout,"
    " parents, policy, pending)"
    "), inserted AS ("
    " INSERT INTO {s}.jobs (id, job_type, status, priority, run_at, data, blocked_reason,"
    " max_attempts, backoff, timeout, depends_on, on_parent_failure, pending_parents,"
    " finished_at)"
    " SELECT id, job_type,"
    " coalesce(status, CASE WHEN run_at > extract(epoch FROM now()) THEN 'delayed'"
    " ELSE 'waiting' END),"
    " priority, to_timestamp(run_at), data, reason, max_attempts, backoff, timeout,"
    " CASE WHEN parents IS NULL THEN '{{}}'::text[]"
    " ELSE ARRAY(SELECT jsonb_array_elements_text(parents::jsonb)) END,"
    " policy, pending,"
    " CASE WHEN status IN ('failed', 'cancelled') THEN now() END"
    " FROM input ON CONFLICT (id) DO NOTHING RETURNING id, job_type, status"
    "), counted AS ("
    " INSERT INTO {s}.job_counts (job_type, status, delta)"
    " SELECT job_type, status, count(*) FROM inserted GROUP BY job_type, status"
    ")"
    " SELECT id, (SELECT count(*) FROM (SELECT pg_notify(%(channel)s, '') FROM inserted"
    " WHERE status = 'waiting' LIMIT 1) AS n) AS notified FROM inserted"
)

BULK_INSERT = (
    "WITH input AS ("
    " SELECT i.id, d.data FROM unnest(%(ids)s::text[]) WITH ORDINALITY AS i(id, n)"
    " JOIN jsonb_array_elements(%(data)s::jsonb) WITH ORDINALITY AS d(data, n) USING (n)"
    "), inserted AS ("
    " INSERT INTO {s}.jobs (id, job_type, status, priority, run_at, data, max_attempts, backoff,"
    " timeout, on_parent_failure)"
    " SELECT id, %(type)s, %(status)s, %(priority)s, to_timestamp(%(run_at)s), data,"
    " %(attempts)s, %(backoff)s::jsonb, %(timeout)s, %(policy)s FROM input"
    " RETURNING 1"
    "), counted AS ("
    " INSERT INTO {s}.job_counts (job_type, status, delta)"
    " SELECT %(type)s, %(status)s, count(*) FROM inserted"
    ")"
    " SELECT count(*) AS added, (SELECT count(*) FROM (SELECT pg_notify(%(channel)s, '')"
    " WHERE %(status)s = 'waiting') AS n) AS notified FROM inserted"
)

CLAIM = (
    "WITH picked AS ("
    " SELECT id FROM {s}.jobs"
    " WHERE status = 'waiting' AND job_type = ANY(%(types)s::text[])"
    " AND job_type <> ALL(ARRAY(SELECT job_type FROM {s}.job_queues WHERE paused))"
    " ORDER BY priority, run_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
    "), claimed AS ("
    " UPDATE {s}.jobs AS j SET status = 'active', attempts = j.attempts + 1,"
    " lease_token = j.lease_token + 1, started_at = now(), worker_id = %(worker)s,"
    " locked_until = now() + make_interval(secs => %(lease)s)"
    f" FROM picked WHERE j.id = picked.id RETURNING j.{JOB_COLUMNS.replace(', ', ', j.')}"
    + "), counted AS ("
    + _counted("claimed", "('waiting', -1), ('active', 1)")
    + ")"
    " SELECT * FROM claimed ORDER BY priority, run_at"
)

COMPLETE = (
    "WITH input AS ("
    " SELECT * FROM unnest(%(ids)s::text[], %(tokens)s::bigint[], %(results)s::jsonb[])"
    " AS t(id, token, result)"
    "), done AS ("
    " UPDATE {s}.jobs AS j SET status = 'completed', result = input.result,"
    " finished_at = now(), locked_until = NULL"
    " FROM input WHERE j.id = input.id AND j.lease_token = input.token AND j.status = 'active'"
    " RETURNING j.id, j.job_type"
    + "), counted AS ("
    + _counted("done", "('active', -1), ('completed', 1)")
    + "), freed AS ("
    " DELETE FROM {s}.job_dependencies AS d USING done WHERE d.parent_id = done.id"
    " RETURNING d.child_id"
    "), unblocked AS ("
    " UPDATE {s}.jobs AS c SET pending_parents = c.pending_parents - f.n,"
    " status = CASE WHEN c.pending_parents - f.n > 0 THEN 'blocked'"
    " WHEN c.run_at > now() THEN 'delayed' ELSE 'waiting' END,"
    " blocked_reason = CASE WHEN c.pending_parents - f.n > 0"
    " THEN 'waiting for ' || (c.pending_parents - f.n) || ' parent job(s)' END"
    " FROM (SELECT child_id, count(*) AS n FROM freed GROUP BY child_id) AS f"
    " WHERE c.id = f.child_id AND c.status = 'blocked'"
    " RETURNING c.job_type, c.status"
    "), counted_children AS ("
    " INSERT INTO {s}.job_counts (job_type, status, delta)"
    " SELECT job_type, status, count(*) FROM unblocked WHERE status <> 'blocked'"
    " GROUP BY job_type, status"
    " UNION ALL SELECT job_type, 'blocked', -count(*) FROM unblocked WHERE status <> 'blocked'"
    " GROUP BY job_type"
    ")"
    " SELECT id, (SELECT count(*) FROM (SELECT pg_notify(%(channel)s, '') FROM unblocked"
    " WHERE status = 'waiting' LIMIT 1) AS n) AS notified FROM done"
)

RETRY_LATER = (
    "WITH moved AS ("
    " UPDATE {s}.jobs SET last_error = %(error)s, locked_until = NULL,"
    " run_at = now() + make_interval(secs => %(delay)s),"
    " status = CASE WHEN %(delay)s > 0 THEN 'delayed' ELSE 'waiting' END"
    " WHERE id = %(id)s AND lease_token = %(token)s AND status = 'active'"
    " RETURNING id, job_type, status"
    "), counted AS ("
    " INSERT INTO {s}.job_counts (job_type, status, delta)"
    " SELECT job_type, 'active', -1 FROM moved UNION ALL SELECT job_type, status, 1 FROM moved"
    ")"
    " SELECT id, (SELECT count(*) FROM (SELECT pg_notify(%(channel)s, '') FROM moved"
    " WHERE status = 'waiting') AS n) AS notified FROM moved"
)

RENEW = (
    "UPDATE {s}.jobs AS j SET locked_until = now() + make_interval(secs => %(lease)s)"
    " FROM unnest(%(ids)s::text[], %(tokens)s::bigint[]) AS t(id, token)"
    " WHERE j.id = t.id AND j.lease_token = t.token AND j.status = 'active' RETURNING j.id"
)

RELEASE = (
    "WITH moved AS ("
    " UPDATE {s}.jobs AS j SET status = 'waiting', attempts = j.attempts - 1, locked_until = NULL"
    " FROM unnest(%(ids)s::text[], %(tokens)s::bigint[]) AS t(id, token)"
    " WHERE j.id = t.id AND j.lease_token = t.token AND j.status = 'active'"
    " RETURNING j.id, j.job_type"
    + "), counted AS ("
    + _counted("moved", "('active', -1), ('waiting', 1)")
    + ")"
    " SELECT id, (SELECT count(*) FROM (SELECT pg_notify(%(channel)s, '') FROM moved LIMIT 1)"
    " AS n) AS notified FROM moved"
)

EXPIRE = (
    "WITH expired AS ("
    " SELECT id FROM {s}.jobs WHERE status = 'active' AND locked_until < now()"
    " FOR UPDATE SKIP LOCKED"
    "), moved AS ("
    " UPDATE {s}.jobs AS j SET locked_until = NULL, run_at = now(), last_error = %(error)s,"
    " status = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'waiting' END,"
    " finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END"
    " FROM expired WHERE j.id = expired.id RETURNING j.id, j.job_type, j.status"
    "), counted AS ("
    " INSERT INTO {s}.job_counts (job_type, status, delta)"
    " SELECT job_type, 'active', -1 FROM moved UNION ALL SELECT job_type, status, 1 FROM moved"
    ")"
    " SELECT id, status, (SELECT count(*) FROM (SELECT pg_notify(%(channel)s, '') FROM moved"
    " LIMIT 1) AS n) AS notified FROM moved"
)

PROMOTE = (
    "WITH due AS ("
    " UPDATE {s}.jobs SET status = 'waiting' WHERE status = 'delayed' AND run_at <= now()"
    " RETURNING job_type"
    + "), counted AS ("
    + _counted("due", "('delayed', -1), ('waiting', 1)")
    + ")"
    " SELECT (SELECT count(*) FROM (SELECT pg_notify(%(channel)s, '') FROM due LIMIT 1) AS n)"
    " AS notified,"
    " (SELECT extract(epoch FROM min(run_at) - now()) FROM {s}.jobs"
    " WHERE status = 'delayed' AND run_at > now()) AS next_due"
)

COMPACT = (
    "WITH gone AS (DELETE FROM {s}.job_counts RETURNING job_type, status, delta)"
    " INSERT INTO {s}.job_counts (job_type, status, delta)"
    " SELECT job_type, status, sum(delta) FROM gone GROUP BY job_type, status"
    " HAVING sum(delta) <> 0"
)

ORPHANS = (
    "SELECT d.parent_id, p.status FROM {s}.job_dependencies AS d"
    " JOIN {s}.jobs AS p ON p.id = d.parent_id"
    " WHERE p.status IN ('completed', 'failed', 'cancelled') LIMIT 1000"
)

STATS = (
    "SELECT status, sum(delta)::bigint AS count,"
    " (SELECT paused FROM {s}.job_queues WHERE job_type = %(type)s) AS paused"
    " FROM {s}.job_counts WHERE job_type = %(type)s GROUP BY status"
)

PURGE = (
    "WITH gone AS ("
    " DELETE FROM {s}.jobs WHERE status IN ('completed', 'failed', 'cancelled')"
    " AND finished_at <= now() - make_interval(secs => %(age)s)"
    " RETURNING id, job_type, status"
    "), counted AS ("
    " INSERT INTO {s}.job_counts (job_type, status, delta)"
    " SELECT job_type, status, -count(*) FROM gone GROUP BY job_type, status"
    "), loose AS (DELETE FROM {s}.job_dependencies AS d USING gone WHERE d.child_id = gone.id)"
    " SELECT count(*) AS removed FROM gone"
)

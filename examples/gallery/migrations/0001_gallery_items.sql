-- The gallery's items, when DATABASE_URL is set (store.PostgresItemStore).
CREATE TABLE gallery_items (
    id text PRIMARY KEY,
    name text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL,
    sha256 text NOT NULL,
    created_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('processing', 'ready', 'failed')),
    kind text,
    width integer,
    height integer,
    duration double precision,
    thumbnail_key text,
    error text
);

CREATE INDEX gallery_items_created_at ON gallery_items (created_at DESC);

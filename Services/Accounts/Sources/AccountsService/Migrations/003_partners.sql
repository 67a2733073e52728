-- Partner integrations a person may consent to share data with; partner consents may name only
-- these (an unknown id is refused, not stored). Registered by an admin, audited.
CREATE TABLE partners (
    id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    registered_at timestamptz NOT NULL DEFAULT now()
);

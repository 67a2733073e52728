-- Every applied event, deliberately without a unique key: a duplicate would show up as a second row.
CREATE TABLE received (
    n int NOT NULL,
    label text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX received_label ON received (label);

-- Reading earns trust: the threads a signed-in person opened, up to the number that counts
-- (`BOARDS_TRUST_THREADS_READ`), and when; the first read starts their time on the boards.
CREATE TABLE thread_reads (
    account_id uuid NOT NULL,
    thread_id uuid NOT NULL REFERENCES threads (id),
    read_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, thread_id)
);

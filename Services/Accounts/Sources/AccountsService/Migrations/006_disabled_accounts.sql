-- An admin may disable an account (staff offboarding): it can no longer sign in and its sessions
-- stop working; the row and its data stay (it is not an erasure).
ALTER TABLE accounts ADD COLUMN disabled_at timestamptz;

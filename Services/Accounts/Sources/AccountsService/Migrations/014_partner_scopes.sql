-- The scopes a partner's keys may hold, set when it is registered; partners registered before
-- this keep every scope (what their keys could hold until now).
ALTER TABLE partners ADD COLUMN scopes text[] NOT NULL
    DEFAULT ARRAY['directory:read', 'referrals:write', 'reports:read', 'users:read', 'chats:create'];

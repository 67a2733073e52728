-- A campaign is marketing (to whom said yes, with an unsubscribe link) or a policy notice (to
-- every live account, whatever their consents: the policy promises to tell of its changes), one
-- per policy version however often its event comes.
ALTER TABLE campaigns ADD COLUMN purpose text NOT NULL DEFAULT 'marketing' CHECK (purpose IN ('marketing', 'policy'));
ALTER TABLE campaigns ADD COLUMN policy_version text UNIQUE;

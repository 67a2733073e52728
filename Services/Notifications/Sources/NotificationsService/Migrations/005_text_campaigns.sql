-- Campaigns by text as well as by email, to whom said yes to marketing texts.
ALTER TABLE campaigns DROP CONSTRAINT campaigns_channel_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_channel_check CHECK (channel IN ('email', 'sms'));

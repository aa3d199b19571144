-- Notifications the sending job is done with (sent, or given up: sent_at is set either way)
-- are purged a while after (campaign.PurgeNotifications); this index finds them by age
-- without reading the outbox.
CREATE INDEX notifications_done ON notifications (sent_at) WHERE sent_at IS NOT NULL;

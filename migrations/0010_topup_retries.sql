-- The top-up query job backs off a failing top-up (as the order jobs do) so that one
-- merchant's broken WeChat is not asked first on every run.
ALTER TABLE topups
    ADD COLUMN retry_at   timestamptz,
    ADD COLUMN attempts   integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text NOT NULL DEFAULT '';
CREATE INDEX topups_pending ON topups (created_at) WHERE status = 'pending';

-- Console throttles (issue 14, points 5 and 8). One row per throttled key: an (email,
-- address) pair, an email, a client address, or the sign-ups of an address. An attempt takes
-- its rows in one INSERT … ON CONFLICT DO UPDATE, which counts it and sets when the key is free
-- again, so parallel attempts are counted one after the other on each row's lock.
--   fails      attempts counted since the key was last quiet for its forget period
--   free_at    attempts before this time are refused without checking anything
--   prev_free  free_at before the last counted attempt, to give a refused attempt's count back
--   attempt    the id of the last counted attempt (tells the statement which rows it took)
--   free_n, base_secs, cap_secs, forget_secs  the key's rule (campaign/throttle.go): free_n
--              attempts without a wait, then base_secs doubling per attempt up to cap_secs;
--              the count starts again after forget_secs without an attempt
CREATE TABLE console_throttle (
    key         text PRIMARY KEY,
    fails       integer NOT NULL CHECK (fails >= 0),
    free_n      integer NOT NULL,
    base_secs   integer NOT NULL,
    cap_secs    integer NOT NULL,
    forget_secs integer NOT NULL,
    free_at     timestamptz NOT NULL,
    prev_free   timestamptz NOT NULL,
    attempt     text NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX console_throttle_updated ON console_throttle (updated_at);

-- The per-email log-in table it replaces counted with a read and a later insert, so parallel
-- attempts all read the same count.
DROP TABLE login_attempts;

-- When WeChat last confirmed these credentials (an access token for the AppID and secret, a
-- signed order query for the merchant number and key). A merchant publishes only once they
-- are verified; settings saved before verification existed must be tested again.
ALTER TABLE merchant_wechat ADD COLUMN verified_at timestamptz;

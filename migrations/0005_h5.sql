-- The follower's H5 pages: sessions and the poster cache.

-- A browser's session. The cookie holds a random token; only its SHA-256 is stored, so a
-- copy of this table signs no one in. A session is anonymous until OAuth names its user
-- (one merchant's user at a time: openids are per official account). oauth_state binds an
-- OAuth round trip to this browser and is cleared when used.
CREATE TABLE h5_sessions (
    id            bytea PRIMARY KEY,
    merchant_id   bigint REFERENCES merchants (id),
    user_id       bigint REFERENCES wechat_users (id),
    scope         text NOT NULL DEFAULT '', -- the best OAuth scope the user granted
    oauth_state   text NOT NULL DEFAULT '',
    oauth_scope   text NOT NULL DEFAULT '',
    oauth_next    text NOT NULL DEFAULT '',
    oauth_expires timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    seen_at       timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    CHECK ((merchant_id IS NULL) = (user_id IS NULL))
);
CREATE INDEX h5_sessions_expiry ON h5_sessions (expires_at);

-- Sharing posters, one per sharer and campaign: fingerprint covers everything drawn
-- (campaign settings version, nickname, avatar, link), so a change redraws and replaces it.
-- Kept in the database so every replica serves what one of them drew.
CREATE TABLE posters (
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    sharer_id   bigint NOT NULL REFERENCES wechat_users (id),
    fingerprint text NOT NULL,
    png         bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, campaign_id, sharer_id)
);

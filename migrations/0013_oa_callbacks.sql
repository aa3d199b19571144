-- Official-account callbacks seen, so a push replayed within its 5-minute window is not
-- processed twice, on any replica. WeChat's own retries (same timestamp, nonce, signature and
-- body) are answered "success" without processing; the same key with another body is a
-- forgery and refused. Rows older than the window are purged by a job: by then the
-- timestamp alone refuses them.
CREATE TABLE oa_callbacks_seen (
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    ts          bigint NOT NULL,  -- the push's timestamp, Unix seconds
    nonce       text NOT NULL,
    signature   text NOT NULL,
    body_sha256 bytea NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, ts, nonce, signature)
);
CREATE INDEX oa_callbacks_seen_ts ON oa_callbacks_seen (ts);

-- Follow-QR scenes issued to a visitor of a campaign. A subscribe or SCAN event binds the
-- follower to the sharer only when its scene was issued to that follower's openid and has not
-- expired; the random part makes scenes unguessable. The QR is reused while it has more than
-- a day left, so a visitor reloading the gate does not mint a QR code each time.
CREATE TABLE follow_scenes (
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    scene       text NOT NULL,
    openid      text NOT NULL,
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    sharer_id   bigint NOT NULL, -- 0: none; bind() checks the sharer belongs to the merchant
    ticket      text NOT NULL,
    qr_url      text NOT NULL,
    image_url   text NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, scene)
);
CREATE INDEX follow_scenes_visitor ON follow_scenes (merchant_id, campaign_id, openid, sharer_id, expires_at);
CREATE INDEX follow_scenes_expires ON follow_scenes (expires_at);

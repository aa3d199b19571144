-- Red packets a sharer can follow, and one sending pace per merchant across replicas.
--
-- reason: what the sharer reads on their claim records about a packet WeChat refused or held
-- back (Chinese, written for them: "微信拒绝向你的账号发红包……金额已退回可提现余额"); last_error
-- keeps WeChat's own answer for operators.
ALTER TABLE packets ADD COLUMN reason text NOT NULL DEFAULT '';

-- checked_at: when WeChat was last asked about a sent packet (gethbinfo), by the status job or
-- by the sharer opening their claim records; the page asks at most every 30 s per packet.
ALTER TABLE packets ADD COLUMN checked_at timestamptz;

-- One user's answer no longer pauses a merchant (OPENID_ERROR: that openid is not the OA's);
-- merchants paused by it resume, and the packet that paused them fails back to its vault.
DELETE FROM payout_pauses WHERE code = 'OPENID_ERROR';

-- Which process holds, or last held, a merchant's send lock (the session advisory lock of
-- wallet.sendLock), and when it let go (NULL while held, or when the holder died holding it).
-- A different process taking over waits until a second has passed since then, so the calls of
-- two replicas never share a sliding second (each keeps the rate's margin on its own calls).
-- Times are the database's clock, so replicas' clocks need not agree.
CREATE TABLE payout_senders (
    merchant_id bigint PRIMARY KEY REFERENCES merchants (id),
    sender      text NOT NULL,
    released_at timestamptz
);

-- Red packets: each packet is one WeChat cash red packet paying part of a sharer's vault.
-- The bill number is written in the same transaction that moves its money to in-flight, and
-- every retry reuses it: WeChat pays one packet per bill number however often it is sent.
--
-- status: queued (waiting for its day or its turn), sending (handed to a sender or outcome
-- unknown: retried with the same bill number), sent (WeChat accepted it, waiting for the user
-- to open it), received (final: money left to the world), refunded (final: unopened for 24 h,
-- money back in the vault), failed (final: definitely not sent, money back in the vault).
CREATE TABLE packets (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants (id),
    sharer_id    bigint NOT NULL,
    openid       text NOT NULL CHECK (openid <> ''),
    bill_no      text NOT NULL CHECK (bill_no ~ '^[0-9A-Za-z]{1,28}$'),
    amount       numeric(14, 2) NOT NULL CHECK (amount >= 1 AND amount <= 200),
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'sending', 'sent', 'received', 'refunded', 'failed')),
    send_after   timestamptz NOT NULL,           -- WeChat's per-user daily limits: the day it may go
    next_at      timestamptz NOT NULL,           -- next send try or status check; also a lease
    attempts     integer NOT NULL DEFAULT 0,
    send_list_id text NOT NULL DEFAULT '',
    last_error   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    finished_at  timestamptz,
    UNIQUE (merchant_id, bill_no)
);
CREATE INDEX packets_to_send ON packets (next_at) WHERE status IN ('queued', 'sending');
CREATE INDEX packets_to_check ON packets (next_at) WHERE status = 'sent';
CREATE INDEX packets_sharer ON packets (merchant_id, sharer_id, id);

-- A merchant whose sending is paused (NOTENOUGH, configuration errors) until they fix it.
CREATE TABLE payout_pauses (
    merchant_id bigint PRIMARY KEY REFERENCES merchants (id),
    code        text NOT NULL,
    message     text NOT NULL,
    since       timestamptz NOT NULL
);

-- Template-message ids a merchant chose for sharer notifications (empty: not sent).
CREATE TABLE merchant_templates (
    merchant_id     bigint PRIMARY KEY REFERENCES merchants (id),
    commission      text NOT NULL DEFAULT '',
    packet_sent     text NOT NULL DEFAULT '',
    packet_refunded text NOT NULL DEFAULT ''
);

-- Outbox of sharer notifications, written in the transaction of the event it tells about and
-- sent by a job; the key doubles as WeChat's ClientMsgID, so a resend is a no-op.
CREATE TABLE notifications (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    msg_key     text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('commission', 'packet_sent', 'packet_refunded')),
    openid      text NOT NULL,
    data        jsonb NOT NULL,
    link        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    next_at     timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0,
    sent_at     timestamptz,
    UNIQUE (merchant_id, msg_key)
);
CREATE INDEX notifications_due ON notifications (next_at) WHERE sent_at IS NULL;

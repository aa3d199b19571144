-- The merchant console: accounts, sessions, login throttling, uploaded images and top-ups.

-- A person who signs in to a merchant's console. Emails are unique whatever their case.
CREATE TABLE merchant_accounts (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchants (id),
    email         text NOT NULL CHECK (email <> '' AND email = lower(email)),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (email)
);
CREATE INDEX merchant_accounts_merchant ON merchant_accounts (merchant_id);

-- Console sessions live here so that any replica can serve any request. id is the SHA-256
-- of the cookie's token: a copy of this table lets nobody sign in. A new row is made at every
-- log-in (the old cookie's row is deleted), so a token planted before log-in is worthless.
CREATE TABLE console_sessions (
    id           bytea PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants (id),
    account_id   bigint NOT NULL REFERENCES merchant_accounts (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- Every log-in attempt, for throttling by email and by client address.
CREATE TABLE login_attempts (
    id    bigserial PRIMARY KEY,
    email text NOT NULL,
    ip    text NOT NULL,
    ok    boolean NOT NULL,
    at    timestamptz NOT NULL
);
CREATE INDEX login_attempts_email ON login_attempts (email, at);
CREATE INDEX login_attempts_ip ON login_attempts (ip, at);

-- Images merchants upload (logo, product, splash), kept in the database so every replica
-- serves them. Content-addressed per merchant: the same file uploaded twice is one row, and
-- its URL never changes meaning, so it is cached for good.
CREATE TABLE uploads (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants (id),
    sha256       text NOT NULL CHECK (length(sha256) = 64),
    content_type text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp')),
    width        integer NOT NULL,
    height       integer NOT NULL,
    size         integer NOT NULL CHECK (size > 0),
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, sha256)
);

-- Red-packet asset top-ups paid with WeChat Native pay. A row is credited to the ledger
-- (key topup:<out_trade_no>) in the transaction that marks it paid, exactly once.
CREATE TABLE topups (
    id             bigserial PRIMARY KEY,
    merchant_id    bigint NOT NULL REFERENCES merchants (id),
    out_trade_no   text NOT NULL,
    amount         numeric(14, 2) NOT NULL CHECK (amount > 0),
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'closed')),
    code_url       text NOT NULL DEFAULT '',
    transaction_id text,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    paid_at        timestamptz,
    UNIQUE (merchant_id, out_trade_no),
    UNIQUE (merchant_id, transaction_id)
);
CREATE INDEX topups_merchant ON topups (merchant_id, id);

-- Merchants' WeChat credentials. The secrets (app secret, token, AES key, pay API key,
-- client certificate) are one AES-GCM sealed blob under SECRET_KEY; ids stay readable.
CREATE TABLE merchant_wechat (
    merchant_id bigint PRIMARY KEY REFERENCES merchants (id),
    app_id      text NOT NULL UNIQUE CHECK (app_id <> ''),
    mch_id      text NOT NULL CHECK (mch_id <> ''),
    sealed      bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A WeChat user is (merchant's OA, openid): openids are per official account.
CREATE TABLE wechat_users (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    openid      text NOT NULL CHECK (openid <> ''),
    nickname    text NOT NULL DEFAULT '',
    avatar_url  text NOT NULL DEFAULT '',
    subscribed  boolean NOT NULL DEFAULT false,
    snapshot    boolean NOT NULL DEFAULT false, -- is_snapshotuser: a virtual openid that never earns
    fan_checked_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, openid)
);

-- Stock counters live on the campaign row so one conditional UPDATE reserves stock:
-- stock = units for sale in all (sum of stock_changes), held = units in unpaid orders,
-- sold = units in paid (or later refunded) orders, earned = units whose commission has left
-- the reserve. While published: reserve == commission × (stock − earned).
CREATE TABLE campaigns (
    id                bigserial PRIMARY KEY,
    merchant_id       bigint NOT NULL REFERENCES merchants (id),
    status            text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'ended')),
    title             text NOT NULL CHECK (title <> ''),
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    show_participants boolean NOT NULL DEFAULT false,
    buyer_limit       integer NOT NULL DEFAULT 0 CHECK (buyer_limit >= 0),
    fans_only         boolean NOT NULL DEFAULT false,
    splash_image      text NOT NULL DEFAULT '',
    splash_link       text NOT NULL DEFAULT '',
    order_ticker      boolean NOT NULL DEFAULT false,
    regions           text[] NOT NULL DEFAULT '{}',
    password          text NOT NULL DEFAULT '',
    commission        numeric(14, 2) NOT NULL CHECK (commission BETWEEN 0.30 AND 200.00),
    buy_before_share  boolean NOT NULL DEFAULT false,
    hold_days         integer NOT NULL DEFAULT 0 CHECK (hold_days BETWEEN 0 AND 90),
    product_name      text NOT NULL CHECK (product_name <> ''),
    price             numeric(14, 2) NOT NULL CHECK (price > 0),
    product_images    text[] NOT NULL DEFAULT '{}',
    description       text NOT NULL DEFAULT '',
    logo              text NOT NULL DEFAULT '',
    buttons           jsonb NOT NULL DEFAULT '[]',
    poster_enabled    boolean NOT NULL DEFAULT true,
    max_per_order     integer NOT NULL DEFAULT 10 CHECK (max_per_order BETWEEN 1 AND 999),
    stock             integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
    held              integer NOT NULL DEFAULT 0 CHECK (held >= 0),
    sold              integer NOT NULL DEFAULT 0 CHECK (sold >= 0),
    earned            integer NOT NULL DEFAULT 0 CHECK (earned >= 0 AND earned <= sold),
    buyers            integer NOT NULL DEFAULT 0 CHECK (buyers >= 0),
    version           integer NOT NULL DEFAULT 1,
    published_at      timestamptz,
    released_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at),
    CHECK (sold + held <= stock)
);
CREATE INDEX campaigns_merchant ON campaigns (merchant_id, id);
CREATE INDEX campaigns_to_release ON campaigns (ends_at) WHERE status = 'published';

-- Every change of stock, so sold + held + unsold == stock ever added can be audited.
CREATE TABLE stock_changes (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    delta       integer NOT NULL CHECK (delta <> 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_changes_campaign ON stock_changes (campaign_id);

-- Distinct buyers with a live order, for the buyer limit.
CREATE TABLE campaign_buyers (
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    buyer_id    bigint NOT NULL REFERENCES wechat_users (id),
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    PRIMARY KEY (campaign_id, buyer_id)
);

CREATE TABLE orders (
    id              bigserial PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES merchants (id),
    campaign_id     bigint NOT NULL REFERENCES campaigns (id),
    buyer_id        bigint NOT NULL REFERENCES wechat_users (id),
    sharer_id       bigint REFERENCES wechat_users (id), -- the sharer credited, set at payment
    out_trade_no    text NOT NULL,
    qty             integer NOT NULL CHECK (qty > 0),
    amount          numeric(14, 2) NOT NULL CHECK (amount > 0),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'closed', 'refunded')),
    transaction_id  text,
    commission      numeric(14, 2) NOT NULL DEFAULT 0,
    commission_status text NOT NULL DEFAULT 'none' CHECK (commission_status IN ('none', 'earned', 'held', 'voided')),
    no_commission   text NOT NULL DEFAULT '', -- why no sharer earned, for the console
    client_ip       text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    paid_at         timestamptz,
    closed_at       timestamptz,
    refunded_at     timestamptz,
    settle_at       timestamptz, -- end of the commission hold
    UNIQUE (merchant_id, out_trade_no),
    UNIQUE (merchant_id, transaction_id)
);
CREATE INDEX orders_pending ON orders (expires_at) WHERE status = 'pending';
CREATE INDEX orders_held ON orders (settle_at) WHERE commission_status = 'held';
CREATE INDEX orders_campaign ON orders (campaign_id, id);
CREATE INDEX orders_buyer ON orders (buyer_id, campaign_id);

-- The sharer a visitor is bound to in a campaign: the latest valid share link opened wins.
CREATE TABLE bindings (
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    visitor_id  bigint NOT NULL REFERENCES wechat_users (id),
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    sharer_id   bigint NOT NULL REFERENCES wechat_users (id),
    bound_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, visitor_id),
    CHECK (visitor_id <> sharer_id)
);

-- Users who entered the campaign password, and the attempts (throttled per minute).
CREATE TABLE campaign_access (
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    user_id     bigint NOT NULL REFERENCES wechat_users (id),
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    PRIMARY KEY (campaign_id, user_id)
);
CREATE TABLE password_attempts (
    id          bigserial PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    user_id     bigint NOT NULL REFERENCES wechat_users (id),
    at          timestamptz NOT NULL
);
CREATE INDEX password_attempts_recent ON password_attempts (campaign_id, user_id, at);

-- Page views per visitor and shares, for the stats.
CREATE TABLE visits (
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    visitor_id  bigint NOT NULL REFERENCES wechat_users (id),
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    views       integer NOT NULL DEFAULT 1,
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, visitor_id)
);
CREATE TABLE shares (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    sharer_id   bigint NOT NULL REFERENCES wechat_users (id),
    channel     text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL
);
CREATE INDEX shares_campaign ON shares (campaign_id);

-- Selling a real product (issue 16): how each campaign's product reaches the buyer, what the
-- buyer gave for it at checkout, and where each paid order is on its way.
--
-- fulfilment: delivery (快递发货: an address, shipped with a tracking number), pickup (到店核销:
-- a 12-digit code shown at the shop) or virtual (无需配送: done at payment). Campaigns from
-- before sold without any of it, which is what virtual is. ask_contact: whether a pickup or
-- virtual order asks for name and mobile (a delivery always does). auto_complete_days: a
-- shipped order completes by itself that long after shipping. hold_from: whether a campaign's
-- commission hold (hold_days) counts from the payment or from the order's completion.
ALTER TABLE campaigns
    ADD COLUMN fulfilment text NOT NULL DEFAULT 'virtual' CHECK (fulfilment IN ('delivery', 'pickup', 'virtual')),
    ADD COLUMN ask_contact boolean NOT NULL DEFAULT false,
    ADD COLUMN auto_complete_days integer NOT NULL DEFAULT 7 CHECK (auto_complete_days BETWEEN 1 AND 30),
    ADD COLUMN hold_from text NOT NULL DEFAULT 'payment' CHECK (hold_from IN ('payment', 'completion'));

-- fulfil_state of a paid order: to_ship (待发货) → shipped (已发货) → done (已完成), or
-- to_verify (待核销) → done (已核销); a virtual order is done at payment. NULL while the order
-- is not paid. done_how: confirmed (the buyer), auto (the job), verified (shop staff),
-- virtual (at payment).
ALTER TABLE orders
    ADD COLUMN fulfil_state text CHECK (fulfil_state IN ('to_ship', 'shipped', 'to_verify', 'done')),
    ADD COLUMN carrier text NOT NULL DEFAULT '',
    ADD COLUMN tracking_no text NOT NULL DEFAULT '',
    ADD COLUMN shipped_at timestamptz,
    ADD COLUMN done_at timestamptz,
    ADD COLUMN done_how text NOT NULL DEFAULT '' CHECK (done_how IN ('', 'confirmed', 'auto', 'verified', 'virtual')),
    ADD COLUMN pickup_code text CHECK (pickup_code ~ '^[0-9]{12}$'),
    ADD CONSTRAINT orders_fulfil_done CHECK ((fulfil_state = 'done') = (done_at IS NOT NULL));

UPDATE orders SET fulfil_state = 'done', done_at = paid_at, done_how = 'virtual' WHERE status = 'paid';

CREATE UNIQUE INDEX orders_pickup_code ON orders (merchant_id, pickup_code) WHERE pickup_code IS NOT NULL;
CREATE INDEX orders_fulfil ON orders (campaign_id, fulfil_state, id) WHERE fulfil_state IS NOT NULL;
CREATE INDEX orders_auto_complete ON orders (shipped_at) WHERE fulfil_state = 'shipped';

-- What the buyer typed (or took from WeChat's address book) at checkout, one row per order
-- that asked for it. The buyer's newest row fills their next checkout.
CREATE TABLE order_contacts (
    order_id    bigint PRIMARY KEY REFERENCES orders (id),
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    buyer_id    bigint NOT NULL REFERENCES wechat_users (id),
    name        text NOT NULL DEFAULT '',
    mobile      text NOT NULL DEFAULT '',
    province    text NOT NULL DEFAULT '',
    city        text NOT NULL DEFAULT '',
    district    text NOT NULL DEFAULT '',
    detail      text NOT NULL DEFAULT '',
    remark      text NOT NULL DEFAULT ''
);
CREATE INDEX order_contacts_buyer ON order_contacts (buyer_id, order_id DESC);

-- A refund's reason, which the buyer's order page shows (partial refunds from the console).
ALTER TABLE order_refunds ADD COLUMN reason text NOT NULL DEFAULT '';

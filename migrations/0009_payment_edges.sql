-- Payments and refunds at WeChat's edges.
--
-- oversold: WeChat took the buyer's money for an order that had been closed and whose stock
-- was sold meanwhile; it holds no stock and is refunded automatically (refunded_at set once
-- done). paid_late marks a payment recorded after its order was closed.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending', 'paid', 'closed', 'refunded', 'oversold'));
ALTER TABLE orders
    ADD COLUMN paid_late  boolean NOT NULL DEFAULT false,
    -- refunded: sum of the order's refunds (order_refunds); partial while below amount.
    ADD COLUMN refunded   numeric(14, 2) NOT NULL DEFAULT 0 CHECK (refunded >= 0),
    -- voided_qty: units whose held commission a refund voided back to the reserve.
    ADD COLUMN voided_qty integer NOT NULL DEFAULT 0 CHECK (voided_qty >= 0),
    -- Jobs that ask WeChat about an order back off a failing one instead of retrying it first
    -- forever: retry_at is its next attempt, last_error what went wrong (shown in the console).
    ADD COLUMN retry_at   timestamptz,
    ADD COLUMN attempts   integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text NOT NULL DEFAULT '';
UPDATE orders SET refunded = amount WHERE status = 'refunded';
UPDATE orders SET voided_qty = qty WHERE commission_status = 'voided';
ALTER TABLE orders ADD CONSTRAINT orders_refund_bounds CHECK (refunded <= amount AND voided_qty <= qty);
CREATE INDEX orders_oversold ON orders (retry_at) WHERE status = 'oversold' AND refunded_at IS NULL;

-- Every refund of an order, whoever made it: the console, the oversold job, or the merchant in
-- WeChat Pay's own platform (source 'wechat'). out_refund_no makes each one count once, however
-- many notifications and queries report it.
CREATE TABLE order_refunds (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchants (id),
    order_id      bigint NOT NULL REFERENCES orders (id),
    out_refund_no text NOT NULL CHECK (out_refund_no <> ''),
    amount        numeric(14, 2) NOT NULL CHECK (amount > 0),
    source        text NOT NULL CHECK (source IN ('console', 'oversold', 'wechat')),
    at            timestamptz NOT NULL,
    UNIQUE (merchant_id, out_refund_no)
);
CREATE INDEX order_refunds_order ON order_refunds (order_id);
INSERT INTO order_refunds (merchant_id, order_id, out_refund_no, amount, source, at)
SELECT merchant_id, id, 'R' || out_trade_no, amount, 'console', COALESCE(refunded_at, now())
FROM orders WHERE status = 'refunded';

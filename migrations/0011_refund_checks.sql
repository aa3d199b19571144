-- A refund made in WeChat Pay's merchant platform sends Fenxiao a notification only when the
-- merchant set the refund notification URL there. So paid orders ask WeChat (refundquery) for
-- their refunds a few times after payment — an hour, a day and a week after — and a held
-- commission asks once more right before it settles. refund_check_at is the next check.
ALTER TABLE orders
    ADD COLUMN refund_check_at timestamptz,
    ADD COLUMN refund_checks   integer NOT NULL DEFAULT 0;
UPDATE orders SET refund_check_at = paid_at + interval '1 hour' WHERE status = 'paid' AND paid_at > now() - interval '7 days';
CREATE INDEX orders_refund_check ON orders (refund_check_at) WHERE status = 'paid';

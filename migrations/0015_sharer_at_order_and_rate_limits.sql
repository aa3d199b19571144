-- The sharer is frozen on an order when it is made (issue 14): orders.sharer_id, until now
-- written at payment from the buyer's binding, is written at creation. Orders still unpaid
-- when this runs take the binding they would have been paid with.
UPDATE orders o SET sharer_id = b.sharer_id
FROM bindings b
WHERE o.status = 'pending' AND o.sharer_id IS NULL AND b.campaign_id = o.campaign_id AND b.visitor_id = o.buyer_id;

COMMENT ON COLUMN orders.sharer_id IS 'the sharer the buyer was bound to when the order was made; credited at payment if eligible';

-- Rate limits shared by every replica (issue 14): one row per key and fixed window, counted
-- by one upsert. Unlogged: a crash forgets the counts, which only lets a few more requests
-- through, and the counter's writes skip the WAL.
CREATE UNLOGGED TABLE rate_windows (
    key          text        NOT NULL,
    window_start timestamptz NOT NULL,
    n            integer     NOT NULL,
    PRIMARY KEY (key, window_start)
);

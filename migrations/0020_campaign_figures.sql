-- The results page's figures kept as they change (issue 15, goal 4): at 100k paid orders
-- reading them back from the orders, the bindings and the visits took 0.45-0.64 s. Each is
-- written in the transaction that changes it, and "fenxiao audit" checks each against the
-- orders, so they cannot drift.

-- On the campaign row, which every payment and every refund already updates last (no new hot
-- row): paid orders and their amount, what was refunded of them (partial refunds included) and
-- in how many orders, and the distinct buyers with a paid order.
ALTER TABLE campaigns
    ADD COLUMN paid_orders     integer NOT NULL DEFAULT 0 CHECK (paid_orders >= 0),
    ADD COLUMN paid_amount     numeric(14, 2) NOT NULL DEFAULT 0 CHECK (paid_amount >= 0),
    ADD COLUMN refunded_amount numeric(14, 2) NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= paid_amount),
    ADD COLUMN refunded_orders integer NOT NULL DEFAULT 0 CHECK (refunded_orders >= 0 AND refunded_orders <= paid_orders),
    ADD COLUMN paid_buyers     integer NOT NULL DEFAULT 0 CHECK (paid_buyers >= 0);

-- The buyer's paid orders in the campaign: the first one makes a new paid buyer.
ALTER TABLE campaign_buyers ADD COLUMN paid integer NOT NULL DEFAULT 0 CHECK (paid >= 0);

-- The share tree, one row per bound visitor: gen is the generation the visitor was reached in
-- when bound (the sharer's own generation then, plus one; a sharer bound to nobody is
-- generation 1), bought whether the visitor has a paid order. The spread chart is one
-- index-only aggregate of these.
ALTER TABLE bindings
    ADD COLUMN gen    integer NOT NULL DEFAULT 2 CHECK (gen >= 2),
    ADD COLUMN bought boolean NOT NULL DEFAULT false;

-- Paid orders per quarter of an hour (every time zone's offset is whole quarters, so the
-- console's days and hours are sums of these), for the sales chart.
CREATE TABLE campaign_sales (
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    at          timestamptz NOT NULL CHECK (date_bin('15 minutes', at, timestamptz '2000-01-01 00:00:00+00') = at),
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    orders      integer NOT NULL CHECK (orders >= 0),
    units       integer NOT NULL CHECK (units >= 0),
    amount      numeric(14, 2) NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (campaign_id, at)
);

-- Each earning sharer's credited orders in the campaign (commission earned or held, the units
-- a refund voided counted out of commission), for the leaderboard and the commissions.
CREATE TABLE campaign_sharers (
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    sharer_id   bigint NOT NULL REFERENCES wechat_users (id),
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    orders      integer NOT NULL CHECK (orders >= 0),
    units       integer NOT NULL CHECK (units >= 0),
    commission  numeric(14, 2) NOT NULL CHECK (commission >= 0),
    PRIMARY KEY (campaign_id, sharer_id)
);

-- The figures of what is already there.
INSERT INTO campaign_sharers (campaign_id, sharer_id, merchant_id, orders, units, commission)
SELECT campaign_id, sharer_id, merchant_id, count(*), sum(qty), sum(commission / qty * (qty - voided_qty))
FROM orders WHERE commission_status IN ('earned', 'held') GROUP BY 1, 2, 3;

UPDATE campaign_buyers b SET paid = o.n
FROM (SELECT campaign_id, buyer_id, count(*) AS n FROM orders WHERE status IN ('paid', 'refunded') GROUP BY campaign_id, buyer_id) o
WHERE o.campaign_id = b.campaign_id AND o.buyer_id = b.buyer_id;

UPDATE campaigns c SET paid_orders = o.n, paid_amount = o.amount, refunded_amount = o.refunded, refunded_orders = o.refunds,
    paid_buyers = o.buyers
FROM (SELECT campaign_id, count(*) AS n, sum(amount) AS amount, sum(refunded) AS refunded,
             count(*) FILTER (WHERE refunded > 0) AS refunds, count(DISTINCT buyer_id) AS buyers
      FROM orders WHERE status IN ('paid', 'refunded') GROUP BY campaign_id) o
WHERE o.campaign_id = c.id;

UPDATE bindings b SET bought = true
FROM campaign_buyers cb WHERE cb.campaign_id = b.campaign_id AND cb.buyer_id = b.visitor_id AND cb.paid > 0;

-- Generations of the bindings already there, walked down from the sharers bound to nobody
-- (a loop reaches no root and stays generation 2).
WITH RECURSIVE walk (campaign_id, visitor_id, gen) AS (
    SELECT b.campaign_id, b.visitor_id, 2 FROM bindings b
    WHERE NOT EXISTS (SELECT 1 FROM bindings p WHERE p.campaign_id = b.campaign_id AND p.visitor_id = b.sharer_id)
    UNION ALL
    SELECT b.campaign_id, b.visitor_id, w.gen + 1 FROM walk w
    JOIN bindings b ON b.campaign_id = w.campaign_id AND b.sharer_id = w.visitor_id
    WHERE w.gen < 100)
UPDATE bindings b SET gen = w.gen FROM walk w WHERE w.campaign_id = b.campaign_id AND w.visitor_id = b.visitor_id;

INSERT INTO campaign_sales (campaign_id, at, merchant_id, orders, units, amount)
SELECT campaign_id, date_bin('15 minutes', paid_at, timestamptz '2000-01-01 00:00:00+00'), merchant_id, count(*), sum(qty), sum(amount)
FROM orders WHERE status IN ('paid', 'refunded') GROUP BY 1, 2, 3;

-- The spread's aggregate and the leaderboard's bound counts read indexes only; the held
-- commissions are summed over the held orders alone. bindings_sharer is also the sharer's
-- promotion page's (0021): a sharer's friends, the latest bound first, a page at a time.
CREATE INDEX bindings_spread ON bindings (campaign_id, gen, bought);
CREATE INDEX bindings_sharer ON bindings (campaign_id, sharer_id, bound_at DESC, visitor_id DESC);
CREATE INDEX orders_held_commissions ON orders (campaign_id) INCLUDE (qty, voided_qty, commission) WHERE commission_status = 'held';

-- A buyer's slot counts their orders that are not closed, so closing one order and placing
-- another can race without losing the slot: both change this one row, under its row lock.
-- A buyer holds a slot while orders > 0; campaigns.buyers counts those rows.
ALTER TABLE campaign_buyers ADD COLUMN orders integer NOT NULL DEFAULT 0 CHECK (orders >= 0);
UPDATE campaign_buyers b SET orders = (SELECT count(*) FROM orders o
    WHERE o.campaign_id = b.campaign_id AND o.buyer_id = b.buyer_id AND o.status <> 'closed');
UPDATE campaigns c SET buyers = (SELECT count(*) FROM campaign_buyers b WHERE b.campaign_id = c.id AND b.orders > 0);

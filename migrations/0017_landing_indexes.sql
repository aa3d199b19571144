-- The landing page's shared numbers read indexes only (issue 15, goal 3): the order ticker
-- takes the newest ten paid orders of a campaign from orders_ticker, and the participant
-- count counts distinct earning sharers from orders_earners without reading an order row.
CREATE INDEX orders_ticker ON orders (campaign_id, paid_at DESC, id DESC) WHERE status IN ('paid', 'refunded');
CREATE INDEX orders_earners ON orders (campaign_id, sharer_id) WHERE commission_status IN ('earned', 'held');

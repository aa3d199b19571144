-- The sharer's promotion page (issue 16): a sharer's friends on a campaign, the latest bound
-- first, and the orders made through them there, newest first, a page at a time by keyset.
-- The friends are read off bindings_sharer (0020), keyed by sharer in page order.

-- orders_sharer (sharer_id) led to a sharer's orders of every campaign in no useful order: a
-- page of one campaign's sorted them all first. Replaced by the same index extended with the
-- campaign and the id, which serves the console's filter by sharer as before (same leading
-- column) and the page's keyset; one index, so the order path writes no more than it did.
DROP INDEX orders_sharer;
CREATE INDEX orders_sharer ON orders (sharer_id, campaign_id, id) WHERE sharer_id IS NOT NULL;

-- The console at 100k orders (issue 15, goal 4).
--
-- The order search by buyer or sharer name: "%name%" cannot use
-- a B-tree, so every search read all the merchant's users (40-90 ms at 100k buyers). A
-- trigram index answers ILIKE with a bitmap of the few matching users; their orders are then
-- read through orders_buyer. pg_trgm ships with PostgreSQL (contrib, in Debian's
-- postgresql-15) and is a trusted extension: the database owner may create it.
-- fastupdate is off: with it, new users wait in the index's pending list, which every search
-- reads in full (160 ms for a search after 100k sign-ups, before a vacuum merged them); a
-- user is written once per sign-in, a search runs on every console filter.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX wechat_users_nickname_trgm ON wechat_users USING gin (nickname gin_trgm_ops) WITH (fastupdate = off);

-- The results page sums a campaign's freezes, voids and releases and the shop's claims by
-- kind: transfers_campaign led to all the campaign's commission transfers (90k rows at 100k
-- orders) to find the few freezes. Keyed by kind first, with the amount in the index, each
-- sum reads only its own rows; nothing else used transfers_campaign.
DROP INDEX transfers_campaign;
CREATE INDEX transfers_kind ON transfers (merchant_id, kind, campaign_id) INCLUDE (amount);

-- The order list filtered by status walked the orders newest first (orders_pkey) until it
-- had a page: for refunded orders, 2 % of a shop's, past every newer order of every shop
-- (110-490 ms for a page at 100k); rarer statuses walked everything. Keyed by status, a page
-- is the index's next 50 entries.
CREATE INDEX orders_merchant_status ON orders (merchant_id, status, id);

-- The list filtered by sharer finds the sharer's orders from the matching users: no index
-- led from a sharer to their orders, so the filter read every order of the shop (111-125 ms
-- at 100k; 5 ms with it).
CREATE INDEX orders_sharer ON orders (sharer_id) WHERE sharer_id IS NOT NULL;

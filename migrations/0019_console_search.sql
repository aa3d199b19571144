-- The console at 100k orders (issue 15, goal 4).
--
-- The order search by buyer or sharer name: "%name%" cannot use
-- a B-tree, so every search read all the merchant's users (40-90 ms at 100k buyers). A
-- trigram index answers ILIKE with a bitmap of the few matching users; their orders are then
-- read through orders_buyer. pg_trgm ships with PostgreSQL (contrib, in Debian's
-- postgresql-15) and is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX wechat_users_nickname_trgm ON wechat_users USING gin (nickname gin_trgm_ops);

-- The results page sums a campaign's freezes, voids and releases and the shop's claims by
-- kind: transfers_campaign led to all the campaign's commission transfers (90k rows at 100k
-- orders) to find the few freezes. Keyed by kind first, with the amount in the index, each
-- sum reads only its own rows; nothing else used transfers_campaign.
DROP INDEX transfers_campaign;
CREATE INDEX transfers_kind ON transfers (merchant_id, kind, campaign_id) INCLUDE (amount);

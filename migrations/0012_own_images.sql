-- Pages and posters draw only the merchant's own uploads (issue 14): an image address on
-- another host was fetched by the server for every first poster, with no size check, and
-- followed redirects anywhere. New addresses are fetched once at save time and stored as
-- uploads; the ones already saved are moved here, out of the campaigns, so nothing serves
-- or fetches them again and nothing is lost: the campaign form lists them, and pasting one
-- back fetches it once through the upload checks.
CREATE TABLE dropped_images (
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    field       text NOT NULL CHECK (field IN ('logo', 'splash_image', 'product_images')),
    url         text NOT NULL,
    dropped_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, campaign_id, field, url)
);

CREATE FUNCTION pg_temp.own_image(merchant bigint, src text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$
    SELECT src ~ ('^/media/' || merchant || '/[0-9a-f]{64}\.(png|jpg|gif|webp)$')
$$;

INSERT INTO dropped_images (merchant_id, campaign_id, field, url)
SELECT merchant_id, id, 'logo', logo FROM campaigns WHERE logo <> '' AND NOT pg_temp.own_image(merchant_id, logo)
UNION
SELECT merchant_id, id, 'splash_image', splash_image FROM campaigns
WHERE splash_image <> '' AND NOT pg_temp.own_image(merchant_id, splash_image)
UNION
SELECT c.merchant_id, c.id, 'product_images', img FROM campaigns c, unnest(c.product_images) AS img
WHERE NOT pg_temp.own_image(c.merchant_id, img);

-- A new version: every poster drawn from a dropped image is drawn again.
UPDATE campaigns SET
    logo = CASE WHEN pg_temp.own_image(merchant_id, logo) THEN logo ELSE '' END,
    splash_image = CASE WHEN pg_temp.own_image(merchant_id, splash_image) THEN splash_image ELSE '' END,
    product_images = ARRAY(SELECT img FROM unnest(product_images) WITH ORDINALITY AS p (img, n)
                           WHERE pg_temp.own_image(merchant_id, img) ORDER BY n),
    version = version + 1, updated_at = now()
WHERE id IN (SELECT campaign_id FROM dropped_images);

DROP FUNCTION pg_temp.own_image(bigint, text);

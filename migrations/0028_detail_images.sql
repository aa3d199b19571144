-- The product's detail pictures (issue 17 point 14): up to 9 of the merchant's own uploads,
-- shown below the description on the landing page, kept like product_images.
ALTER TABLE campaigns ADD COLUMN detail_images text[] NOT NULL DEFAULT '{}';

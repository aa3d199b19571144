-- Notifications that are sent (issue 16): eight kinds instead of three, a template id per
-- kind as a row, given-up sends counted for the merchant, and the merchant's own openid to
-- receive test messages, bound by scanning a QR code the console issues.

CREATE TABLE notification_templates (
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    kind        text NOT NULL,
    template_id text NOT NULL CHECK (template_id <> ''),
    PRIMARY KEY (merchant_id, kind)
);
INSERT INTO notification_templates (merchant_id, kind, template_id)
SELECT merchant_id, 'commission', commission FROM merchant_templates WHERE commission <> ''
UNION ALL SELECT merchant_id, 'packet_sent', packet_sent FROM merchant_templates WHERE packet_sent <> ''
UNION ALL SELECT merchant_id, 'packet_refunded', packet_refunded FROM merchant_templates WHERE packet_refunded <> '';
DROP TABLE merchant_templates;

ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('friend_opened', 'friend_paid',
    'commission', 'packet_sent', 'packet_refunded', 'buyer_paid', 'buyer_shipped', 'buyer_verified'));
-- failed_at: given up after the last retry (sent_at is then set too: the job is done with it).
ALTER TABLE notifications ADD COLUMN failed_at timestamptz, ADD COLUMN last_error text NOT NULL DEFAULT '';
CREATE INDEX notifications_failed ON notifications (merchant_id, failed_at) WHERE failed_at IS NOT NULL;

-- The merchant's test receiver. scene is the QR scene currently issued to bind one (single
-- use: cleared once scanned); openid is who scanned it last.
CREATE TABLE notify_receivers (
    merchant_id      bigint PRIMARY KEY REFERENCES merchants (id),
    openid           text NOT NULL DEFAULT '',
    bound_at         timestamptz,
    scene            text UNIQUE,
    qr_image_url     text NOT NULL DEFAULT '',
    scene_expires_at timestamptz
);

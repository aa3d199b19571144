-- Merchants: one row per tenant. Everything a merchant owns carries its merchant_id.
CREATE TABLE merchants (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (btrim(name) <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

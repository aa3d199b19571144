-- The double-entry ledger. Every yuan lives in an account; money moves only as a transfer of
-- two entries that sum to zero. Entries and transfers are append-only.

-- kind: world (money entering or leaving through WeChat; the only account that may go
-- negative), available (the merchant's red-packet assets), reserve (commissions frozen for
-- one campaign, ref_id = campaign id), vault_pending / vault (a sharer's held and claimable
-- commissions, ref_id = sharer id), in_flight (a sharer's claimed money being paid out as red
-- packets, ref_id = sharer id). Accounts never span merchants, so no transaction needs two.
CREATE TABLE accounts (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants (id),
    kind        text NOT NULL CHECK (kind IN ('world', 'available', 'reserve', 'vault_pending', 'vault', 'in_flight')),
    ref_id      bigint NOT NULL DEFAULT 0,
    balance     numeric(14, 2) NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, kind, ref_id),
    CONSTRAINT accounts_no_overdraft CHECK (kind = 'world' OR balance >= 0),
    CONSTRAINT accounts_ref CHECK ((kind IN ('world', 'available')) = (ref_id = 0))
);

CREATE TABLE transfers (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants (id),
    kind         text NOT NULL CHECK (kind IN ('topup', 'freeze', 'release', 'commission',
                     'commission_held', 'commission_settle', 'commission_void', 'claim',
                     'payout_received', 'payout_returned')),
    idem_key     text NOT NULL CHECK (idem_key <> ''),
    from_account bigint NOT NULL REFERENCES accounts (id),
    to_account   bigint NOT NULL REFERENCES accounts (id),
    amount       numeric(14, 2) NOT NULL CHECK (amount > 0),
    campaign_id  bigint,
    ref          text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, idem_key),
    CHECK (from_account <> to_account)
);

-- amount is signed: negative leaves the account, positive enters it. balance_after is the
-- account's balance right after this entry, which makes statements a plain read.
CREATE TABLE entries (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchants (id),
    transfer_id   bigint NOT NULL REFERENCES transfers (id),
    account_id    bigint NOT NULL REFERENCES accounts (id),
    amount        numeric(14, 2) NOT NULL CHECK (amount <> 0),
    balance_after numeric(14, 2) NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entries_account ON entries (account_id, id);
CREATE INDEX entries_transfer ON entries (transfer_id);
CREATE INDEX transfers_campaign ON transfers (merchant_id, campaign_id) WHERE campaign_id IS NOT NULL;

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END;
$$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

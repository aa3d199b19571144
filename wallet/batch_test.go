package wallet_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jmoiron/sqlx"

	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
)

// entryLines reads an account's entries as "amount→balance_after", oldest first.
func entryLines(t *testing.T, db *sqlx.DB, a wallet.Account) []string {
	t.Helper()
	var lines []string
	if err := db.Select(&lines, `SELECT e.amount || '→' || e.balance_after FROM entries e JOIN accounts a ON a.id = e.account_id
WHERE a.merchant_id = $1 AND a.kind = $2 AND a.ref_id = $3 ORDER BY e.id`, a.MerchantID, a.Kind, a.RefID); err != nil {
		t.Fatal(err)
	}
	return lines
}

func earnAll(db *sqlx.DB, svc *wallet.Service, es []wallet.Earning) error {
	return wallet.Transact(ctx, db, func(tx *sqlx.Tx) error { return svc.EarnCommissions(ctx, tx, es) })
}

// A batch writes the ledger the single movements would have: per commission one transfer
// and two entries in order with running balances, new vaults created, held ones pending.
func TestEarnCommissionsWritesWhatSinglesWould(t *testing.T) {
	db := dbtest.DB(t)
	svc := wallet.NewService(db)
	const campaign = 5
	single, batch := newMerchant(t, db), newMerchant(t, db)
	var es []wallet.Earning
	for _, m := range []int64{single, batch} {
		must(t)(svc.TopUpAssets(ctx, nil, m, d("10.00"), "topup", "T"))
		must(t)(svc.FreezeReserve(ctx, nil, m, campaign, d("10.00"), "freeze"))
	}
	earn := func(m int64) []wallet.Earning {
		return []wallet.Earning{
			{MerchantID: m, CampaignID: campaign, SharerID: 1, Amount: d("1.50"), Key: "order:1:commission", Ref: "O1"},
			{MerchantID: m, CampaignID: campaign, SharerID: 2, Amount: d("0.30"), Key: "order:2:commission", Ref: "O2", Held: true},
			{MerchantID: m, CampaignID: campaign, SharerID: 1, Amount: d("2.00"), Key: "order:3:commission", Ref: "O3"},
			{MerchantID: m, CampaignID: campaign, SharerID: 3, Amount: d("0.01"), Key: "order:4:commission", Ref: "O4"},
		}
	}
	for _, e := range earn(single) {
		must(t)(svc.EarnCommission(ctx, nil, e))
	}
	es = earn(batch)
	if err := earnAll(db, svc, es); err != nil {
		t.Fatal(err)
	}
	for _, a := range []func(m int64) wallet.Account{
		func(m int64) wallet.Account { return wallet.ReserveOf(m, campaign) },
		func(m int64) wallet.Account { return wallet.VaultOf(m, 1) },
		func(m int64) wallet.Account { return wallet.PendingOf(m, 2) },
		func(m int64) wallet.Account { return wallet.VaultOf(m, 3) },
	} {
		want, got := entryLines(t, db, a(single)), entryLines(t, db, a(batch))
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Errorf("%s %d: batch wrote %v, single movements %v", a(batch).Kind, a(batch).RefID, got, want)
		}
	}
	assertBalances(t, svc, balances{wallet.ReserveOf(batch, campaign): "6.19", wallet.VaultOf(batch, 1): "3.50", wallet.PendingOf(batch, 2): "0.30"})
	if n := countTransfers(t, db, batch); n != 6 {
		t.Errorf("%d transfers, want 6 (top-up, freeze, 4 commissions)", n)
	}

	// The same batch again, and a batch mixing a replay with a new one: only the new moves.
	if err := earnAll(db, svc, es); err != nil {
		t.Fatal(err)
	}
	again := append(es[:1:1], wallet.Earning{MerchantID: batch, CampaignID: campaign, SharerID: 3, Amount: d("0.19"), Key: "order:5:commission"},
		wallet.Earning{MerchantID: batch, CampaignID: campaign, SharerID: 3, Amount: d("0.19"), Key: "order:5:commission"})
	if err := earnAll(db, svc, again); err != nil {
		t.Fatal(err)
	}
	assertBalances(t, svc, balances{wallet.ReserveOf(batch, campaign): "6.00", wallet.VaultOf(batch, 3): "0.20"})
	if n := countTransfers(t, db, batch); n != 7 {
		t.Errorf("%d transfers after the replays, want 7", n)
	}
	auditAll(t, db)
}

// A refused commission refuses the batch: nothing of it is written.
func TestEarnCommissionsRefusesWhole(t *testing.T) {
	db := dbtest.DB(t)
	svc := wallet.NewService(db)
	m := newMerchant(t, db)
	must(t)(svc.TopUpAssets(ctx, nil, m, d("3.00"), "topup", "T"))
	must(t)(svc.FreezeReserve(ctx, nil, m, 9, d("3.00"), "freeze"))
	must(t)(svc.EarnCommission(ctx, nil, wallet.Earning{MerchantID: m, CampaignID: 9, SharerID: 1, Amount: d("1.00"), Key: "k1"}))
	ok := wallet.Earning{MerchantID: m, CampaignID: 9, SharerID: 2, Amount: d("1.00"), Key: "k2"}
	for name, tc := range map[string]struct {
		bad  wallet.Earning
		want error
	}{
		"more than the reserve holds":   {wallet.Earning{MerchantID: m, CampaignID: 9, SharerID: 3, Amount: d("1.50"), Key: "k3"}, wallet.ErrInsufficientFunds},
		"a key used for another amount": {wallet.Earning{MerchantID: m, CampaignID: 9, SharerID: 1, Amount: d("0.50"), Key: "k1"}, wallet.ErrKeyReused},
		"a key used for another sharer": {wallet.Earning{MerchantID: m, CampaignID: 9, SharerID: 4, Amount: d("1.00"), Key: "k1"}, wallet.ErrKeyReused},
		"no key":                        {wallet.Earning{MerchantID: m, CampaignID: 9, SharerID: 3, Amount: d("0.10")}, nil},
		"a zero amount":                 {wallet.Earning{MerchantID: m, CampaignID: 9, SharerID: 3, Amount: d("0"), Key: "k4"}, wallet.ErrInvalidAmount},
	} {
		err := earnAll(db, svc, []wallet.Earning{ok, tc.bad})
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	assertBalances(t, svc, balances{wallet.ReserveOf(m, 9): "2.00", wallet.VaultOf(m, 2): "0"})
	if n := countTransfers(t, db, m); n != 3 {
		t.Errorf("%d transfers, want 3: refused batches write nothing", n)
	}
	auditAll(t, db)
}

package wallet_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, "wallet")) }

var ctx = context.Background()

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// newMerchant creates a merchant to own the accounts of one test.
func newMerchant(t testing.TB, db *sqlx.DB) int64 {
	t.Helper()
	var id int64
	if err := db.QueryRow(`INSERT INTO merchants (name) VALUES ($1) RETURNING id`, t.Name()).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// balances reads the accounts of a test in one go, for compact assertions.
type balances map[wallet.Account]string

func assertBalances(t *testing.T, svc *wallet.Service, want balances) {
	t.Helper()
	for a, w := range want {
		got, err := svc.Balance(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(d(w)) {
			t.Errorf("%s %d: balance %s, want %s", a.Kind, a.RefID, got, w)
		}
	}
}

func countTransfers(t *testing.T, db *sqlx.DB, merchantID int64) int {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM transfers WHERE merchant_id = $1`, merchantID); err != nil {
		t.Fatal(err)
	}
	return n
}

// must fails the test when a movement fails: must(t)(svc.TopUpAssets(...)).
func must(t *testing.T) func(wallet.Transfer, error) {
	return func(_ wallet.Transfer, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestEveryMovement(t *testing.T) {
	db := dbtest.DB(t)
	svc := wallet.NewService(db)
	m := newMerchant(t, db)
	const campaign, sharer = 11, 77
	world := wallet.Account{MerchantID: m, Kind: wallet.World}
	avail, reserve := wallet.AvailableOf(m), wallet.ReserveOf(m, campaign)
	vault, pending, inflight := wallet.VaultOf(m, sharer), wallet.PendingOf(m, sharer), wallet.InFlightOf(m, sharer)

	must(t)(svc.TopUpAssets(ctx, nil, m, d("100.00"), "topup:T1", "T1"))
	assertBalances(t, svc, balances{world: "-100", avail: "100"})

	must(t)(svc.FreezeReserve(ctx, nil, m, campaign, d("30"), "freeze:c11:publish"))
	must(t)(svc.ReleaseReserve(ctx, nil, m, campaign, d("4.50"), "release:c11:stock"))
	assertBalances(t, svc, balances{avail: "74.50", reserve: "25.50"})

	must(t)(svc.EarnCommission(ctx, nil, wallet.Earning{MerchantID: m, CampaignID: campaign, SharerID: sharer, Amount: d("5"), Key: "commission:o1", Ref: "o1"}))
	held := wallet.Earning{MerchantID: m, CampaignID: campaign, SharerID: sharer, Amount: d("3"), Key: "commission:o2", Ref: "o2", Held: true}
	must(t)(svc.EarnCommission(ctx, nil, held))
	assertBalances(t, svc, balances{reserve: "17.50", vault: "5", pending: "3"})

	held.Key = "settle:o2"
	must(t)(svc.SettleCommission(ctx, nil, held))
	voided := wallet.Earning{MerchantID: m, CampaignID: campaign, SharerID: sharer, Amount: d("2"), Key: "commission:o3", Held: true}
	must(t)(svc.EarnCommission(ctx, nil, voided))
	voided.Key = "void:o3"
	must(t)(svc.VoidCommission(ctx, nil, voided))
	assertBalances(t, svc, balances{reserve: "17.50", vault: "8", pending: "0"})

	must(t)(svc.ClaimPayout(ctx, nil, m, sharer, d("8"), "claim:B1", "B1"))
	assertBalances(t, svc, balances{vault: "0", inflight: "8"})
	must(t)(svc.PayoutReceived(ctx, nil, m, sharer, d("5"), "received:B1", "B1"))
	must(t)(svc.PayoutReturned(ctx, nil, m, sharer, d("3"), "returned:B2", "B2"))
	assertBalances(t, svc, balances{world: "-95", inflight: "0", vault: "3", avail: "74.50"})

	assets, err := svc.Assets(ctx, m)
	if err != nil || !assets.Available.Equal(d("74.5")) || !assets.Frozen.Equal(d("17.5")) {
		t.Fatalf("assets %+v, %v", assets, err)
	}
	v, err := svc.Vault(ctx, m, sharer)
	if err != nil || !v.Available.Equal(d("3")) || !v.Pending.IsZero() || !v.InFlight.IsZero() {
		t.Fatalf("vault %+v, %v", v, err)
	}
}

func TestIdempotency(t *testing.T) {
	db := dbtest.DB(t)
	svc := wallet.NewService(db)
	m := newMerchant(t, db)

	first, err := svc.TopUpAssets(ctx, nil, m, d("10"), "topup:X", "X")
	if err != nil || first.Replayed {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := svc.TopUpAssets(ctx, nil, m, d("10.00"), "topup:X", "X")
	if err != nil || !again.Replayed || again.ID != first.ID {
		t.Fatalf("replay: %+v %v, want the first transfer %d replayed", again, err, first.ID)
	}
	assertBalances(t, svc, balances{wallet.AvailableOf(m): "10"})

	// Same key, different amount or different movement: refused, nothing written.
	if _, err := svc.TopUpAssets(ctx, nil, m, d("11"), "topup:X", "X"); !errors.Is(err, wallet.ErrKeyReused) {
		t.Fatalf("different amount: %v, want ErrKeyReused", err)
	}
	if _, err := svc.FreezeReserve(ctx, nil, m, 1, d("10"), "topup:X"); !errors.Is(err, wallet.ErrKeyReused) {
		t.Fatalf("different movement: %v, want ErrKeyReused", err)
	}
	if n := countTransfers(t, db, m); n != 1 {
		t.Fatalf("%d transfers, want 1", n)
	}
	assertBalances(t, svc, balances{wallet.AvailableOf(m): "10", wallet.ReserveOf(m, 1): "0"})

	// Keys are per merchant: another merchant may use the same one.
	other := newMerchant(t, db)
	must(t)(svc.TopUpAssets(ctx, nil, other, d("1"), "topup:X", "X"))

	// Twenty concurrent tries of one movement: it happens once.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.FreezeReserve(ctx, nil, m, 5, d("3"), "freeze:c5")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	assertBalances(t, svc, balances{wallet.AvailableOf(m): "7", wallet.ReserveOf(m, 5): "3"})
}

func TestRefusalsWriteNothing(t *testing.T) {
	db := dbtest.DB(t)
	svc := wallet.NewService(db)
	m := newMerchant(t, db)
	must(t)(svc.TopUpAssets(ctx, nil, m, d("5"), "topup:1", ""))
	must(t)(svc.FreezeReserve(ctx, nil, m, 1, d("2"), "freeze:1"))
	must(t)(svc.EarnCommission(ctx, nil, wallet.Earning{MerchantID: m, CampaignID: 1, SharerID: 9, Amount: d("1"), Key: "c:1"}))
	before := countTransfers(t, db, m)

	over := []struct {
		name string
		move func() (wallet.Transfer, error)
	}{
		{"freeze", func() (wallet.Transfer, error) { return svc.FreezeReserve(ctx, nil, m, 1, d("3.01"), "k1") }},
		{"release", func() (wallet.Transfer, error) { return svc.ReleaseReserve(ctx, nil, m, 1, d("1.01"), "k2") }},
		{"commission", func() (wallet.Transfer, error) {
			return svc.EarnCommission(ctx, nil, wallet.Earning{MerchantID: m, CampaignID: 1, SharerID: 9, Amount: d("1.01"), Key: "k3"})
		}},
		{"settle", func() (wallet.Transfer, error) {
			return svc.SettleCommission(ctx, nil, wallet.Earning{MerchantID: m, CampaignID: 1, SharerID: 9, Amount: d("0.01"), Key: "k4"})
		}},
		{"void", func() (wallet.Transfer, error) {
			return svc.VoidCommission(ctx, nil, wallet.Earning{MerchantID: m, CampaignID: 1, SharerID: 9, Amount: d("0.01"), Key: "k5"})
		}},
		{"claim", func() (wallet.Transfer, error) { return svc.ClaimPayout(ctx, nil, m, 9, d("1.01"), "k6", "B") }},
		{"received", func() (wallet.Transfer, error) { return svc.PayoutReceived(ctx, nil, m, 9, d("0.01"), "k7", "B") }},
		{"returned", func() (wallet.Transfer, error) { return svc.PayoutReturned(ctx, nil, m, 9, d("0.01"), "k8", "B") }},
	}
	for _, tc := range over {
		if _, err := tc.move(); !errors.Is(err, wallet.ErrInsufficientFunds) {
			t.Errorf("%s beyond the balance: %v, want ErrInsufficientFunds", tc.name, err)
		}
	}
	for _, bad := range []string{"0", "-1", "0.001", "1000000000000"} {
		if _, err := svc.TopUpAssets(ctx, nil, m, d(bad), "bad:"+bad, ""); !errors.Is(err, wallet.ErrInvalidAmount) {
			t.Errorf("top-up of %s: %v, want ErrInvalidAmount", bad, err)
		}
	}
	if _, err := svc.TopUpAssets(ctx, nil, m, d("1"), "", ""); err == nil {
		t.Error("empty idempotency key accepted")
	}
	if n := countTransfers(t, db, m); n != before {
		t.Fatalf("refused movements wrote %d transfers", n-before)
	}
	assertBalances(t, svc, balances{wallet.AvailableOf(m): "3", wallet.ReserveOf(m, 1): "1", wallet.VaultOf(m, 9): "1"})

	// The database refuses an overdraft even from a caller that skips the service.
	if _, err := db.Exec(`UPDATE accounts SET balance = -1 WHERE merchant_id = $1 AND kind = 'available'`, m); err == nil {
		t.Fatal("database accepted a negative available balance")
	}
	// And entries cannot be edited or deleted.
	if _, err := db.Exec(`UPDATE entries SET amount = 1 WHERE merchant_id = $1`, m); err == nil {
		t.Fatal("an entry was updated")
	}
	if _, err := db.Exec(`DELETE FROM transfers WHERE merchant_id = $1`, m); err == nil {
		t.Fatal("a transfer was deleted")
	}
}

func TestInCallerTransaction(t *testing.T) {
	db := dbtest.DB(t)
	svc := wallet.NewService(db)
	m := newMerchant(t, db)
	must(t)(svc.TopUpAssets(ctx, nil, m, d("10"), "topup", ""))

	// A refused movement leaves the caller's transaction usable; a rollback undoes the rest.
	err := wallet.Transact(ctx, db, func(tx *sqlx.Tx) error {
		if _, err := svc.FreezeReserve(ctx, tx, m, 1, d("4"), "f1"); err != nil {
			return err
		}
		if _, err := svc.FreezeReserve(ctx, tx, m, 1, d("7"), "f2"); !errors.Is(err, wallet.ErrInsufficientFunds) {
			return fmt.Errorf("second freeze: %v", err)
		}
		if _, err := svc.FreezeReserve(ctx, tx, m, 1, d("6"), "f3"); err != nil {
			return fmt.Errorf("transaction unusable after a refusal: %w", err)
		}
		return errors.New("caller changes its mind")
	})
	if err == nil || err.Error() != "caller changes its mind" {
		t.Fatal(err)
	}
	assertBalances(t, svc, balances{wallet.AvailableOf(m): "10", wallet.ReserveOf(m, 1): "0"})
	if n := countTransfers(t, db, m); n != 1 {
		t.Fatalf("rolled-back transaction left %d transfers", n-1)
	}

	err = wallet.Transact(ctx, db, func(tx *sqlx.Tx) error {
		_, err := svc.FreezeReserve(ctx, tx, m, 1, d("4"), "f1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	assertBalances(t, svc, balances{wallet.AvailableOf(m): "6", wallet.ReserveOf(m, 1): "4"})
}

func TestStatement(t *testing.T) {
	db := dbtest.DB(t)
	svc := wallet.NewService(db)
	m := newMerchant(t, db)
	must(t)(svc.TopUpAssets(ctx, nil, m, d("100"), "t1", "WX1"))
	must(t)(svc.FreezeReserve(ctx, nil, m, 3, d("30"), "f3"))
	must(t)(svc.FreezeReserve(ctx, nil, m, 4, d("20"), "f4"))
	must(t)(svc.ReleaseReserve(ctx, nil, m, 3, d("5"), "r3"))
	must(t)(svc.EarnCommission(ctx, nil, wallet.Earning{MerchantID: m, CampaignID: 3, SharerID: 1, Amount: d("2"), Key: "c1"})) // not on the statement

	p, err := svc.Statement(ctx, m, wallet.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ kind, amount, after string }{
		{"release", "5", "55"}, {"freeze", "-20", "50"}, {"freeze", "-30", "70"}, {"topup", "100", "100"},
	}
	if len(p.Lines) != len(want) || p.Next != 0 {
		t.Fatalf("%d lines (next %d), want %d", len(p.Lines), p.Next, len(want))
	}
	for i, w := range want {
		l := p.Lines[i]
		if string(l.Kind) != w.kind || !l.Amount.Equal(d(w.amount)) || !l.BalanceAfter.Equal(d(w.after)) {
			t.Errorf("line %d: %s %s → %s, want %s %s → %s", i, l.Kind, l.Amount, l.BalanceAfter, w.kind, w.amount, w.after)
		}
	}

	byCampaign, _ := svc.Statement(ctx, m, wallet.Filter{CampaignID: 3})
	byKind, _ := svc.Statement(ctx, m, wallet.Filter{Kinds: []wallet.TransferKind{wallet.TopUp}})
	if len(byCampaign.Lines) != 2 || len(byKind.Lines) != 1 || byKind.Lines[0].Ref != "WX1" {
		t.Fatalf("filters: campaign %d lines, top-up %d lines", len(byCampaign.Lines), len(byKind.Lines))
	}

	// Pages of 3 then 1.
	first, _ := svc.Statement(ctx, m, wallet.Filter{Limit: 3})
	second, _ := svc.Statement(ctx, m, wallet.Filter{Limit: 3, Before: first.Next})
	if len(first.Lines) != 3 || first.Next == 0 || len(second.Lines) != 1 || second.Next != 0 || second.Lines[0].Kind != wallet.TopUp {
		t.Fatalf("paging: %d (next %d) then %d (next %d)", len(first.Lines), first.Next, len(second.Lines), second.Next)
	}

	hist, err := svc.VaultHistory(ctx, m, 1, wallet.Filter{})
	if err != nil || len(hist.Lines) != 1 || hist.Lines[0].Kind != wallet.Commission || !hist.Lines[0].Amount.Equal(d("2")) {
		t.Fatalf("vault history %+v %v", hist, err)
	}
}

func TestMissingIDsRefused(t *testing.T) {
	db := dbtest.DB(t)
	svc := wallet.NewService(db)
	m := newMerchant(t, db)
	must(t)(svc.TopUpAssets(ctx, nil, m, d("1"), "t", ""))
	if _, err := svc.FreezeReserve(ctx, nil, m, 0, d("1"), "f"); err == nil || !strings.Contains(err.Error(), "campaign id") {
		t.Fatalf("freeze without a campaign: %v", err)
	}
	if _, err := svc.ClaimPayout(ctx, nil, m, 0, d("1"), "c", ""); err == nil || !strings.Contains(err.Error(), "sharer id") {
		t.Fatalf("claim without a sharer: %v", err)
	}
	if _, err := svc.TopUpAssets(ctx, nil, 0, d("1"), "t0", ""); err == nil {
		t.Fatal("top-up without a merchant accepted")
	}
}

package wallet_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
)

// 64 goroutines make random movements on a few shared accounts. Refusals are fine; anything
// else is not. Afterwards nothing is negative, the ledger sums to zero and the audit passes.
func TestConcurrentMovements(t *testing.T) {
	db := dbtest.DB(t)
	svc := wallet.NewService(db)
	m := newMerchant(t, db)
	campaigns, sharers := []int64{1, 2}, []int64{1, 2, 3}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 42))
			for i := range 25 {
				key := fmt.Sprintf("g%d-%d", g, i)
				amt := wallet.FromFen(int64(1 + r.IntN(3000)))
				c, s := campaigns[r.IntN(2)], sharers[r.IntN(3)]
				e := wallet.Earning{MerchantID: m, CampaignID: c, SharerID: s, Amount: amt, Key: key, Held: r.IntN(2) == 0}
				var err error
				switch r.IntN(9) {
				case 0:
					_, err = svc.TopUpAssets(ctx, nil, m, amt, key, "")
				case 1:
					_, err = svc.FreezeReserve(ctx, nil, m, c, amt, key)
				case 2:
					_, err = svc.ReleaseReserve(ctx, nil, m, c, amt, key)
				case 3:
					_, err = svc.EarnCommission(ctx, nil, e)
				case 4:
					_, err = svc.SettleCommission(ctx, nil, e)
				case 5:
					_, err = svc.VoidCommission(ctx, nil, e)
				case 6:
					_, err = svc.ClaimPayout(ctx, nil, m, s, amt, key, key)
				case 7:
					_, err = svc.PayoutReceived(ctx, nil, m, s, amt, key, key)
				case 8:
					_, err = svc.PayoutReturned(ctx, nil, m, s, amt, key, key)
				}
				if err != nil && !errors.Is(err, wallet.ErrInsufficientFunds) {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var negatives int
	var total decimal.Decimal
	if err := db.Get(&negatives, `SELECT count(*) FROM accounts WHERE merchant_id = $1 AND kind <> 'world' AND balance < 0`, m); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&total, `SELECT sum(balance) FROM accounts WHERE merchant_id = $1`, m); err != nil {
		t.Fatal(err)
	}
	if negatives != 0 || !total.IsZero() {
		t.Fatalf("%d negative balances, balances sum to %s", negatives, total)
	}
	if n := countTransfers(t, db, m); n < 200 {
		t.Fatalf("only %d of 1600 movements happened: the test exercised too little", n)
	}
	violations, err := wallet.AuditLedger(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Error(v)
	}
}

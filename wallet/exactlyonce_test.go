package wallet_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/wallet"
	"fenxiao/wechat/sim"
)

// 2,000 red packets paid exactly once while the simulator answers SYSTEMERROR, FREQ_LIMIT and
// times out after succeeding (seeded), two replicas run the jobs at once, and senders "die"
// between commit and send and between send and commit. Afterwards every bill number was paid
// once by the simulator, the simulator's total equals the ledger's total sent to the world,
// and the audit passes.
func TestExactlyOnceUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 packets")
	}
	e := newPayEnv(t)
	const sharers, perSharer = 400, 5 // 2,000 packets of 200 yuan
	openids := map[int64]string{}
	for i := int64(1); i <= sharers; i++ {
		_, openids[i] = e.sharer(i, "1000")
	}

	var crashed sync.Map // bill number → already crashed once
	// Whichever replica sends a packet dies once at "leased" for every 50th bill and at "sent"
	// for every 45th.
	crash := func(point, bill string) bool {
		id, _ := strconv.ParseInt(bill[len(bill)-10:], 10, 64)
		if (point == "leased" && id%50 != 0) || (point == "sent" && id%45 != 0) {
			return false
		}
		_, again := crashed.LoadOrStore(point+bill, true)
		return !again
	}
	replicas := []*wallet.Payouts{
		e.payouts(func(c *wallet.PayoutConfig) { wallet.WithCrash(c, crash) }),
		e.payouts(func(c *wallet.PayoutConfig) { wallet.WithCrash(c, crash) }),
	}
	for i := int64(1); i <= sharers; i++ {
		res, err := replicas[i%2].Claim(ctx, e.merchant, i, openids[i])
		if err != nil || len(res.Packets) != perSharer || res.Queued != 0 {
			t.Fatalf("claim of sharer %d: %+v %v", i, res, err)
		}
	}
	for _, f := range []sim.RandomFaults{
		{Endpoint: "sendredpack", Seed: 7, Probabilities: map[string]float64{"SYSTEMERROR": 0.05, "FREQ_LIMIT": 0.05, "timeout": 0.02}},
		{Endpoint: "gethbinfo", Seed: 8, Probabilities: map[string]float64{"SYSTEMERROR": 0.05}},
	} {
		if err := e.sim.SetRandomFaults(f); err != nil {
			t.Fatal(err)
		}
	}
	defer e.sim.ClearFaults()

	both := func(job func(*wallet.Payouts, context.Context) (int, error)) {
		var wg sync.WaitGroup
		for _, r := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := job(r, ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	var advanced time.Duration
	defer func() { clock.Advance(-advanced) }()
	for round := 0; ; round++ {
		both((*wallet.Payouts).SendDue)
		for _, p := range e.sim.Ledger().Packets {
			if p.MchID == e.creds.MchID && p.Status == "SENT" {
				e.sim.OpenPacket(p.MchID, p.BillNo) //nolint:errcheck // the user opens it
			}
		}
		clock.Advance(20 * time.Second) // leases and backoffs expire
		advanced += 20 * time.Second
		both((*wallet.Payouts).SyncSent)
		var open int
		if err := e.db.Get(&open, `SELECT count(*) FROM packets WHERE merchant_id = $1 AND status <> 'received'`, e.merchant); err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			t.Logf("all 2,000 packets received after %d rounds", round+1)
			break
		}
		if round == 60 {
			t.Fatalf("%d packets still not received after 60 rounds", open)
		}
	}

	var simTotal int64
	seen := map[string]int{}
	sends := 0
	for _, p := range e.sim.Ledger().Packets {
		if p.MchID != e.creds.MchID {
			continue
		}
		seen[p.BillNo]++
		sends += p.Sends
		if p.Status == "RECEIVED" {
			simTotal += p.AmountFen
		}
	}
	if len(seen) != sharers*perSharer {
		t.Fatalf("the simulator paid %d distinct bill numbers, want %d", len(seen), sharers*perSharer)
	}
	for bill, n := range seen {
		if n != 1 {
			t.Fatalf("bill %s paid %d times", bill, n)
		}
	}
	var ledgerTotal decimal.Decimal
	if err := e.db.Get(&ledgerTotal, `SELECT COALESCE(sum(amount), 0) FROM transfers WHERE merchant_id = $1 AND kind = 'payout_received'`, e.merchant); err != nil {
		t.Fatal(err)
	}
	if !wallet.FromFen(simTotal).Equal(ledgerTotal) || !ledgerTotal.Equal(decimal.NewFromInt(400000)) {
		t.Fatalf("simulator paid %d fen, ledger sent %s yuan to the world; want 400000 yuan both", simTotal, ledgerTotal)
	}
	crashes := map[string]int{}
	crashed.Range(func(k, _ any) bool {
		if s := k.(string); len(s) > 4 && s[:4] == "sent" {
			crashes["sent"]++
		} else {
			crashes["leased"]++
		}
		return true
	})
	if crashes["sent"] == 0 || crashes["leased"] == 0 {
		t.Fatalf("the test crashed no sender at some point: %v", crashes)
	}
	t.Logf("%d sendredpack calls for %d packets (retries reuse the bill number); senders died %d times after commit and %d times after WeChat answered",
		sends, len(seen), crashes["leased"], crashes["sent"])
	auditAll(t, e.db)
}

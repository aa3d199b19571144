package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
)

func runAudit(t *testing.T, url string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runWith(context.Background(), []string{"audit", "-db", url}, &out, &errOut, nil)
	return code, out.String() + errOut.String()
}

func TestAuditNamesBrokenRows(t *testing.T) {
	dbtest.DB(t)
	url := dbtest.NewDatabase(t, "audit")
	if code := runWith(context.Background(), []string{"migrate", "-db", url}, &bytes.Buffer{}, &bytes.Buffer{}, nil); code != 0 {
		t.Fatalf("migrate exit %d", code)
	}
	db := sqlx.MustOpen("postgres", url)
	defer db.Close()
	var m int64
	if err := db.Get(&m, `INSERT INTO merchants (name) VALUES ('audit') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	svc := wallet.NewService(db)
	ctx := context.Background()
	if _, err := svc.TopUpAssets(ctx, nil, m, decimal.NewFromInt(100), "t1", ""); err != nil {
		t.Fatal(err)
	}
	// A draft campaign 1 owns the reserve account (40 = its 20 units × 2.00 once published).
	var cid int64
	if err := db.Get(&cid, `INSERT INTO campaigns (merchant_id, status, title, starts_at, ends_at, commission, product_name, price, stock)
VALUES ($1, 'published', 'audit', now() - interval '1 hour', now() + interval '1 day', 2, 'tea', 10, 20) RETURNING id`, m); err != nil {
		t.Fatal(err)
	}
	db.MustExec(`INSERT INTO stock_changes (merchant_id, campaign_id, delta) VALUES ($1, $2, 20)`, m, cid)
	freeze, err := svc.FreezeReserve(ctx, nil, m, cid, decimal.NewFromInt(40), "f1")
	if err != nil {
		t.Fatal(err)
	}

	if code, out := runAudit(t, url); code != exitOK || !strings.Contains(out, "every invariant holds") {
		t.Fatalf("healthy ledger: exit %d\n%s", code, out)
	}

	// Break one entry of the freeze, bypassing the append-only trigger as an attacker or a
	// careless manual fix would.
	var entryID int64
	if err := db.Get(&entryID, `SELECT id FROM entries WHERE transfer_id = $1 AND amount > 0`, freeze.ID); err != nil {
		t.Fatal(err)
	}
	tx := db.MustBegin()
	tx.MustExec(`SET LOCAL session_replication_role = replica`)
	tx.MustExec(`UPDATE entries SET amount = 41 WHERE id = $1`, entryID)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	code, out := runAudit(t, url)
	if code != exitFailed {
		t.Fatalf("broken entry: exit %d, want 1\n%s", code, out)
	}
	t.Logf("audit of the broken ledger:\n%s", out)
	for _, want := range []string{"transfer balanced", fmt.Sprintf("transfer %d", freeze.ID), fmt.Sprint(entryID), "cached balance equals entries"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit output does not mention %q:\n%s", want, out)
		}
	}

	// Mend the entry, then break a cached balance instead.
	tx = db.MustBegin()
	tx.MustExec(`SET LOCAL session_replication_role = replica`)
	tx.MustExec(`UPDATE entries SET amount = 40 WHERE id = $1`, entryID)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if code, out := runAudit(t, url); code != exitOK {
		t.Fatalf("mended ledger: exit %d\n%s", code, out)
	}
	var accountID int64
	if err := db.Get(&accountID, `UPDATE accounts SET balance = balance + 5 WHERE merchant_id = $1 AND kind = 'available' RETURNING id`, m); err != nil {
		t.Fatal(err)
	}
	code, out = runAudit(t, url)
	if code != exitFailed || !strings.Contains(out, fmt.Sprintf("available account %d caches 65.00 but its entries sum to 60.00", accountID)) {
		t.Fatalf("broken balance: exit %d\n%s", code, out)
	}
}

// The command runs the campaign invariants too, not only the ledger's: a published campaign
// that claims 3 units sold without any order or reserve behind them is named.
func TestAuditChecksCampaigns(t *testing.T) {
	dbtest.DB(t)
	url := dbtest.NewDatabase(t, "auditcampaigns")
	if code := runWith(context.Background(), []string{"migrate", "-db", url}, &bytes.Buffer{}, &bytes.Buffer{}, nil); code != 0 {
		t.Fatalf("migrate exit %d", code)
	}
	db := sqlx.MustOpen("postgres", url)
	defer db.Close()
	var m, c int64
	if err := db.Get(&m, `INSERT INTO merchants (name) VALUES ('audit') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&c, `INSERT INTO campaigns (merchant_id, status, title, starts_at, ends_at, commission, product_name, price, stock, sold)
VALUES ($1, 'published', 'broken', now() - interval '1 hour', now() + interval '1 day', 2, 'tea', 10, 3, 3) RETURNING id`, m); err != nil {
		t.Fatal(err)
	}
	db.MustExec(`INSERT INTO stock_changes (merchant_id, campaign_id, delta) VALUES ($1, $2, 3)`, m, c)
	code, out := runAudit(t, url)
	if code != exitFailed {
		t.Fatalf("a campaign with sold = 3 and no orders: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"stock conserved", fmt.Sprintf("campaign %d", c), "sold 3 (paid orders 0)", "reserve matches unearned stock"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit output does not mention %q:\n%s", want, out)
		}
	}
}

// The audit holds one violation at a time: on a database with 200,000 broken balances it
// prints every one while the Go heap grows by far less than collecting them would take.
func TestAuditMemoryIsBounded(t *testing.T) {
	dbtest.DB(t)
	url := dbtest.NewDatabase(t, "auditmemory")
	if code := runWith(context.Background(), []string{"migrate", "-db", url}, &bytes.Buffer{}, &bytes.Buffer{}, nil); code != 0 {
		t.Fatalf("migrate exit %d", code)
	}
	db := sqlx.MustOpen("postgres", url)
	defer db.Close()
	const broken = 200_000
	db.MustExec(`INSERT INTO merchants (name) VALUES ('audit')`)
	db.MustExec(`INSERT INTO accounts (merchant_id, kind, ref_id, balance) SELECT 1, 'vault', g, 1 FROM generate_series(1, $1::integer) g`, broken)

	peak := watchHeap(t)
	var out lineCounter
	code := runWith(context.Background(), []string{"audit", "-db", url}, &out, &bytes.Buffer{}, nil)
	grown := peak()
	if code != exitFailed || out.lines != broken+1 {
		t.Fatalf("exit %d, %d lines; want 1 and %d violations and the total", code, out.lines, broken)
	}
	t.Logf("%d violations, heap grew by at most %.1f MB", broken, float64(grown)/(1<<20))
	if grown > 20<<20 {
		t.Errorf("the heap grew by %.1f MB while auditing: violations are collected, not streamed", float64(grown)/(1<<20))
	}
}

// lineCounter is an io.Writer that counts the lines written to it and keeps none.
type lineCounter struct{ lines int }

func (w *lineCounter) Write(p []byte) (int, error) {
	w.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

// watchHeap samples the live heap every few milliseconds until the returned func is called,
// which returns the peak growth over the heap at the start.
func watchHeap(t testing.TB) (peak func() uint64) {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var top atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base && ms.HeapAlloc-base > top.Load() {
				top.Store(ms.HeapAlloc - base)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); <-stopped; return top.Load() }
}

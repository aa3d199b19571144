package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

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
	freeze, err := svc.FreezeReserve(ctx, nil, m, 1, decimal.NewFromInt(40), "f1")
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

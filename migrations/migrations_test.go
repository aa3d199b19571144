package migrations_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"fenxiao/migrations"
	"fenxiao/migrations/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, "migrations")) }

func TestAllOrderedAndNamed(t *testing.T) {
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no migrations embedded")
	}
	// Versions only have to increase: work landing in parallel may take numbers out of order.
	for i := 1; i < len(all); i++ {
		if all[i].Version <= all[i-1].Version {
			t.Errorf("migrations %d and %d out of order", all[i-1].Version, all[i].Version)
		}
	}
}

// A table created by a migration can be written and read back.
func TestSchemaWritesAndReads(t *testing.T) {
	db := dbtest.DB(t)
	var id int64
	if err := db.QueryRow(`INSERT INTO merchants (name) VALUES ('茶叶小铺') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := db.Get(&name, `SELECT name FROM merchants WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if name != "茶叶小铺" {
		t.Fatalf("read back %q", name)
	}
	if _, err := db.Exec(`INSERT INTO merchants (name) VALUES ('  ')`); err == nil {
		t.Fatal("blank merchant name accepted")
	}
}

// Many runners at once on an empty database: every file applied exactly once.
func TestConcurrentUp(t *testing.T) {
	url := dbtest.NewDatabase(t, "concurrent_up")
	all, _ := migrations.All()
	var wg sync.WaitGroup
	applied := make([]int, 8)
	errs := make([]error, 8)
	for i := range applied {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := sqlx.Open("postgres", url)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			done, err := migrations.Up(context.Background(), db.DB)
			applied[i], errs[i] = len(done), err
		}()
	}
	wg.Wait()
	total := 0
	for i := range applied {
		if errs[i] != nil {
			t.Fatalf("runner %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != len(all) {
		t.Fatalf("applied %d migrations in all, want %d (each exactly once)", total, len(all))
	}
	db := sqlx.MustOpen("postgres", url)
	defer db.Close()
	pending, err := migrations.Pending(context.Background(), db.DB)
	if err != nil || len(pending) != 0 {
		t.Fatalf("pending after Up: %v, %v", pending, err)
	}
}

func TestPendingOnEmptyDatabase(t *testing.T) {
	url := dbtest.NewDatabase(t, "pending_empty")
	db := sqlx.MustOpen("postgres", url)
	defer db.Close()
	pending, err := migrations.Pending(context.Background(), db.DB)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := migrations.All()
	if len(pending) != len(all) {
		t.Fatalf("pending = %d, want all %d", len(pending), len(all))
	}
}

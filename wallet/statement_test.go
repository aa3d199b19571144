package wallet_test

import (
	"fmt"
	"testing"

	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
)

// Paging a statement by its cursor visits every line exactly once, newest first, whatever the
// page size, also when the lines come from two accounts (a sharer's vault and pending vault,
// interleaved) and under a filter.
func TestStatementPagesCoverEveryLineOnce(t *testing.T) {
	db := dbtest.DB(t)
	svc := wallet.NewService(db)
	m := newMerchant(t, db)
	must(t)(svc.TopUpAssets(ctx, nil, m, d("1000"), "t0", ""))
	must(t)(svc.FreezeReserve(ctx, nil, m, 9, d("500"), "f9"))
	for i := 1; i <= 37; i++ {
		e := wallet.Earning{MerchantID: m, CampaignID: 9, SharerID: 5, Amount: d("1"), Key: fmt.Sprintf("c%d", i), Held: i%3 == 0}
		must(t)(svc.EarnCommission(ctx, nil, e))
		if i%5 == 0 {
			must(t)(svc.TopUpAssets(ctx, nil, m, d("1"), fmt.Sprintf("t%d", i), ""))
		}
	}
	walk := func(page func(wallet.Filter) (wallet.Page, error), f wallet.Filter) []int64 {
		t.Helper()
		var ids []int64
		for n := 0; ; n++ {
			p, err := page(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Lines) > f.Limit || (p.Next != 0 && len(p.Lines) != f.Limit) || n > 100 {
				t.Fatalf("page %d: %d lines of %d, next %d", n, len(p.Lines), f.Limit, p.Next)
			}
			for _, l := range p.Lines {
				if len(ids) > 0 && l.EntryID >= ids[len(ids)-1] {
					t.Fatalf("entry %d after %d: not newest first, or seen twice", l.EntryID, ids[len(ids)-1])
				}
				ids = append(ids, l.EntryID)
			}
			if p.Next == 0 {
				return ids
			}
			f.Before = p.Next
		}
	}
	history := func(f wallet.Filter) (wallet.Page, error) { return svc.VaultHistory(ctx, m, 5, f) }
	statement := func(f wallet.Filter) (wallet.Page, error) { return svc.Statement(ctx, m, f) }
	all, err := svc.VaultHistory(ctx, m, 5, wallet.Filter{Limit: 1000})
	if err != nil || len(all.Lines) != 37 || all.Next != 0 {
		t.Fatalf("whole history: %d lines, next %d, %v", len(all.Lines), all.Next, err)
	}
	for _, size := range []int{1, 2, 5, 36, 37, 38} {
		ids := walk(history, wallet.Filter{Limit: size})
		if len(ids) != 37 {
			t.Errorf("pages of %d: %d lines, want 37", size, len(ids))
		}
		for i, l := range all.Lines {
			if i < len(ids) && ids[i] != l.EntryID {
				t.Fatalf("pages of %d: line %d is entry %d, want %d", size, i, ids[i], l.EntryID)
			}
		}
	}
	if held := walk(history, wallet.Filter{Limit: 4, Kinds: []wallet.TransferKind{wallet.CommissionHeld}}); len(held) != 12 {
		t.Errorf("held commissions: %d lines, want 12", len(held))
	}
	if ups := walk(statement, wallet.Filter{Limit: 2, Kinds: []wallet.TransferKind{wallet.TopUp}}); len(ups) != 8 {
		t.Errorf("top-ups: %d lines, want 8", len(ups))
	}
	if lines := walk(statement, wallet.Filter{Limit: 3}); len(lines) != 9 {
		t.Errorf("statement: %d lines, want 9 (8 top-ups and a freeze)", len(lines))
	}
	if none, err := svc.VaultHistory(ctx, m, 99, wallet.Filter{}); err != nil || len(none.Lines) != 0 || none.Next != 0 {
		t.Errorf("a sharer without accounts: %+v %v", none, err)
	}
}

package campaign_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"fenxiao/campaign"
	"fenxiao/wallet"
	"fenxiao/wechat/sim"
)

// 1,000 buyers at once on 100 units: exactly 100 units sold, every successful checkout has its
// order, the rest are told "sold out"; with a buyer limit of 30, exactly 30 buyers get in.
func TestConcurrentBuyersNeverOversell(t *testing.T) {
	for _, tc := range []struct {
		name       string
		buyerLimit int
		wantOrders int
		wantErr    error
	}{
		{"stock", 0, 100, campaign.ErrSoldOut},
		{"buyer limit", 30, 30, campaign.ErrBuyerLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "1000")
			c := e.campaign(100, func(s *campaign.Settings) { s.BuyerLimit = tc.buyerLimit; s.Commission = d("0.30") })
			buyers := make([]*campaign.User, 1000)
			for i := range buyers {
				buyers[i] = e.user(fmt.Sprintf("买家%d", i))
			}
			var mu sync.Mutex
			var checkouts []*campaign.Checkout
			var refused, other int
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, u := range buyers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					co, err := e.svc.CreateOrder(ctx, c.ID, u, 1, "127.0.0.1")
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						checkouts = append(checkouts, co)
					case errors.Is(err, tc.wantErr):
						refused++
					default:
						other++
						t.Errorf("buyer %s: %v", u.Nickname, err)
					}
				}()
			}
			close(start)
			wg.Wait()
			if len(checkouts) != tc.wantOrders || refused+len(checkouts)+other != 1000 {
				t.Fatalf("%d checkouts, %d refused, %d other errors; want %d checkouts", len(checkouts), refused, other, tc.wantOrders)
			}
			var orders int
			if err := e.db.Get(&orders, `SELECT count(*) FROM orders WHERE campaign_id = $1`, c.ID); err != nil || orders != tc.wantOrders {
				t.Fatalf("%d order rows (%v), want %d", orders, err, tc.wantOrders)
			}
			// Pay them all; the notifications land concurrently.
			byID := map[int64]*campaign.User{}
			for _, u := range buyers {
				byID[u.ID] = u
			}
			for _, co := range checkouts {
				e.pay(co, byID[co.Order.BuyerID])
			}
			for _, co := range checkouts {
				e.waitStatus(co.Order.ID, campaign.Paid)
			}
			c = e.reload(c)
			if c.Sold != tc.wantOrders || c.Held != 0 || c.Sold > c.Stock {
				t.Fatalf("sold %d held %d stock %d", c.Sold, c.Held, c.Stock)
			}
			if tc.buyerLimit > 0 && c.Buyers != tc.buyerLimit {
				t.Fatalf("%d buyers counted, limit %d", c.Buyers, tc.buyerLimit)
			}
			audit(t, e.db)
		})
	}
}

// A notification delivered five times, one forged and one claiming another amount: one
// payment, one commission; the forged and wrong ones are refused (and the simulator is told
// FAIL).
func TestDuplicateForgedAndWrongNotifications(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10)
	a, b := e.user("甲"), e.user("乙")
	if _, err := e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)); err != nil {
		t.Fatal(err)
	}
	co, err := e.svc.CreateOrder(ctx, c.ID, b, 2, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	// Paid at WeChat; its own notification and four more copies arrive.
	e.pay(co, b)
	e.waitStatus(co.Order.ID, campaign.Paid)
	replies, err := simulator.SendPayNotify(e.creds.MchID, co.Order.OutTradeNo, sim.NotifyOptions{Times: 4, Extra: map[string]string{"coupon_id_3": "C3", "sub_mch_id": "1900000109"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range replies {
		if !strings.Contains(r, "SUCCESS") {
			t.Fatalf("duplicate answered %q, want SUCCESS", r)
		}
	}
	forged, err := simulator.SendPayNotify(e.creds.MchID, co.Order.OutTradeNo, sim.NotifyOptions{Forged: true})
	if err != nil || len(forged) != 1 || !strings.Contains(forged[0], "FAIL") {
		t.Fatalf("forged notification answered %q (%v), want FAIL", forged, err)
	}
	wrong, err := simulator.SendPayNotify(e.creds.MchID, co.Order.OutTradeNo, sim.NotifyOptions{TotalFen: 1})
	if err != nil || len(wrong) != 1 || !strings.Contains(wrong[0], "FAIL") {
		t.Fatalf("wrong-amount notification answered %q (%v), want FAIL", wrong, err)
	}

	c = e.reload(c)
	if c.Sold != 2 || c.Earned != 2 {
		t.Fatalf("sold %d earned %d after 6 notifications, want 2 and 2", c.Sold, c.Earned)
	}
	var transfers int
	if err := e.db.Get(&transfers, `SELECT count(*) FROM transfers WHERE merchant_id = $1 AND kind = 'commission'`, e.merchant); err != nil || transfers != 1 {
		t.Fatalf("%d commission transfers (%v), want 1", transfers, err)
	}
	equal(t, "A's vault", e.balance(wallet.VaultOf(e.merchant, a.ID)), "4")
	var notes int
	if err := e.db.Get(&notes, `SELECT count(*) FROM notifications WHERE merchant_id = $1 AND kind = 'commission' AND openid = $2`, e.merchant, a.OpenID); err != nil || notes != 1 {
		t.Fatalf("%d commission notifications for A (%v), want 1", notes, err)
	}
	audit(t, e.db)
}

// An order's quantity must be within the per-order limit; drafts and other merchants' users
// cannot buy.
func TestOrderLimits(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) { s.MaxPerOrder = 3 })
	u := e.user("限购")
	for _, qty := range []int{0, 4} {
		if _, err := e.svc.CreateOrder(ctx, c.ID, u, qty, ""); !errors.Is(err, campaign.ErrInvalid) {
			t.Errorf("qty %d: %v, want ErrInvalid", qty, err)
		}
	}
	if _, err := e.svc.CreateOrder(ctx, c.ID, u, 11, ""); err == nil {
		t.Error("more than the stock accepted")
	}
	other := newEnv(t, "")
	stranger := other.user("别家用户")
	if _, err := e.svc.CreateOrder(ctx, c.ID, stranger, 1, ""); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("another merchant's user: %v, want ErrNotFound", err)
	}
	draft, err := e.svc.Create(ctx, e.merchant, settings(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateOrder(ctx, draft.ID, u, 1, ""); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("draft: %v, want ErrNotFound", err)
	}
}

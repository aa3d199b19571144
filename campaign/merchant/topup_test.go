package merchant_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/campaign/merchant"
	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// topUpEnv is a merchant whose top-up notifications reach a server of the test's own. drop
// makes it answer FAIL without recording anything, as when the database is down.
type topUpEnv struct {
	t        *testing.T
	db       *sqlx.DB
	m        *merchant.Service
	wallet   *wallet.Service
	merchant int64
	creds    wechat.Credentials
	drop     atomic.Bool
	replies  atomic.Int32
}

func newTopUpEnv(t *testing.T) *topUpEnv {
	t.Helper()
	db := dbtest.DB(t)
	te := &topUpEnv{t: t, db: db, wallet: wallet.NewService(db)}
	notify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if te.drop.Load() || !strings.HasSuffix(r.URL.Path, "/topup") {
			w.Write(wechat.NotifyReply(false, "down")) //nolint:errcheck
			return
		}
		te.replies.Add(1)
		if err := te.m.HandleTopUpNotify(r.Context(), te.merchant, body); err != nil {
			w.Write(wechat.NotifyReply(false, err.Error())) //nolint:errcheck
			return
		}
		w.Write(wechat.NotifyReply(true, "OK")) //nolint:errcheck
	}))
	t.Cleanup(notify.Close)
	te.m = newMerchants(t, db, notify.URL)
	var err error
	if te.merchant, err = te.m.CreateMerchant(ctx, "充值测试"); err != nil {
		t.Fatal(err)
	}
	return te
}

func (te *topUpEnv) balance(a wallet.Account) decimal.Decimal {
	te.t.Helper()
	b, err := te.wallet.Balance(ctx, a)
	if err != nil {
		te.t.Fatal(err)
	}
	return b
}

// audit runs the ledger's invariants on the package database.
func audit(t *testing.T, db *sqlx.DB) {
	t.Helper()
	vs, err := wallet.Audit(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Errorf("audit: %s", v)
	}
}

func (te *topUpEnv) setUpWeChat() {
	te.t.Helper()
	creds, err := simulator.AddMerchant(sim.MerchantConfig{})
	if err != nil {
		te.t.Fatal(err)
	}
	if err := te.m.SetWeChat(ctx, te.merchant, creds); err != nil {
		te.t.Fatal(err)
	}
	te.creds = creds
}

// scanAndPay pays a top-up's QR code as a user of the merchant would in WeChat.
func (te *topUpEnv) scanAndPay(tu *merchant.TopUp) {
	te.t.Helper()
	prepay, err := simulator.PrepayIDOfCodeURL(tu.CodeURL)
	if err != nil {
		te.t.Fatal(err)
	}
	payer, err := simulator.AddUser(sim.User{AppID: te.creds.AppID, Nickname: "店主"})
	if err != nil {
		te.t.Fatal(err)
	}
	if err := simulator.Pay(prepay, payer.OpenID); err != nil {
		te.t.Fatal(err)
	}
}

func (te *topUpEnv) waitTopUp(id int64, status string) *merchant.TopUp {
	te.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tu, err := te.m.TopUp(ctx, te.merchant, id)
		if err != nil {
			te.t.Fatal(err)
		}
		if tu.Status == status {
			return tu
		}
		if time.Now().After(deadline) {
			te.t.Fatalf("top-up %d is %s, want %s", id, tu.Status, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTopUpRules(t *testing.T) {
	te := newTopUpEnv(t)
	_, err := te.m.StartTopUp(ctx, te.merchant, d("100"), "")
	wantField(t, err, "amount", "请先在「微信设置」中填写")
	te.setUpWeChat()
	for amount, want := range map[string]string{"0.50": "1 元到 50,000 元", "50000.01": "1 元到 50,000 元", "10.001": "最多两位小数"} {
		_, err := te.m.StartTopUp(ctx, te.merchant, d(amount), "")
		wantField(t, err, "amount", want)
	}
}

// A top-up paid in the simulator is credited once, however many notifications arrive; a
// forged or wrong-amount one is refused.
func TestTopUpCreditsAssetsExactlyOnce(t *testing.T) {
	te := newTopUpEnv(t)
	te.setUpWeChat()
	tu, err := te.m.StartTopUp(ctx, te.merchant, d("300.50"), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tu.CodeURL, "weixin://wxpay/bizpayurl?pr=") || tu.Status != "pending" {
		t.Fatalf("top-up %+v", tu)
	}
	te.scanAndPay(tu)
	paid := te.waitTopUp(tu.ID, "paid")
	if paid.TransactionID == nil || paid.PaidAt == nil {
		t.Fatalf("paid top-up without transaction: %+v", paid)
	}
	replies, err := simulator.SendPayNotify(te.creds.MchID, tu.OutTradeNo, sim.NotifyOptions{Times: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range replies {
		if !strings.Contains(r, "SUCCESS") {
			t.Errorf("duplicate answered %s, want SUCCESS", r)
		}
	}
	for _, opt := range []sim.NotifyOptions{{Forged: true}, {TotalFen: 1}} {
		replies, err := simulator.SendPayNotify(te.creds.MchID, tu.OutTradeNo, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(replies[0], "FAIL") {
			t.Errorf("%+v answered %s, want FAIL", opt, replies[0])
		}
	}
	assets, err := te.wallet.Assets(ctx, te.merchant)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "available after a paid top-up and 5 more notifications", assets.Available, "300.50")
	p, err := te.wallet.Statement(ctx, te.merchant, wallet.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Lines) != 1 || p.Lines[0].Kind != wallet.TopUp || p.Lines[0].Ref != tu.OutTradeNo {
		t.Fatalf("statement %+v", p.Lines)
	}
	list, err := te.m.TopUps(ctx, te.merchant, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("top-ups %v, %v", list, err)
	}
	audit(t, te.db)
}

// When the notification never gets through, the QR page's polling asks WeChat and credits
// the payment, once.
func TestTopUpStatusQueriesALostNotification(t *testing.T) {
	te := newTopUpEnv(t)
	te.setUpWeChat()
	te.drop.Store(true)
	tu, err := te.m.StartTopUp(ctx, te.merchant, d("50"), "")
	if err != nil {
		t.Fatal(err)
	}
	te.scanAndPay(tu)
	if got, err := te.m.TopUpStatus(ctx, te.merchant, tu.ID); err != nil || got.Status != "pending" {
		t.Fatalf("fresh top-up: %+v, %v (it is too early to ask WeChat)", got, err)
	}
	clock.Advance(11 * time.Second)
	for range 2 {
		got, err := te.m.TopUpStatus(ctx, te.merchant, tu.ID)
		if err != nil || got.Status != "paid" {
			t.Fatalf("after the query: %+v, %v", got, err)
		}
	}
	te.drop.Store(false)
	if _, err := simulator.SendPayNotify(te.creds.MchID, tu.OutTradeNo, sim.NotifyOptions{}); err != nil {
		t.Fatal(err)
	}
	equal(t, "available", te.balance(wallet.Account{MerchantID: te.merchant, Kind: wallet.Available}), "50")

	// An unpaid top-up past its expiry is closed.
	unpaid, err := te.m.StartTopUp(ctx, te.merchant, decimal.NewFromInt(20), "")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2*time.Hour + time.Minute)
	if got, err := te.m.TopUpStatus(ctx, te.merchant, unpaid.ID); err != nil || got.Status != "closed" {
		t.Fatalf("expired top-up: %+v, %v", got, err)
	}
	if _, err := te.m.TopUp(ctx, te.merchant+1000, unpaid.ID); err == nil {
		t.Fatal("another merchant sees the top-up")
	}
	audit(t, te.db)
}

// The job finds a paid top-up nobody is watching and whose notifications all failed, and two
// replicas running it at once credit it once.
func TestQueryTopUpsJob(t *testing.T) {
	te := newTopUpEnv(t)
	te.setUpWeChat()
	te.drop.Store(true)
	tu, err := te.m.StartTopUp(ctx, te.merchant, d("88.80"), "")
	if err != nil {
		t.Fatal(err)
	}
	te.scanAndPay(tu)
	if _, err := te.m.QueryTopUps(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := te.m.TopUp(ctx, te.merchant, tu.ID); got.Status != "pending" {
		t.Fatalf("a top-up younger than a minute was queried: %s", got.Status)
	}
	clock.Advance(2 * time.Minute)
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := te.m.QueryTopUps(ctx); errs <- err }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	te.waitTopUp(tu.ID, "paid")
	equal(t, "available", te.balance(wallet.Account{MerchantID: te.merchant, Kind: wallet.Available}), "88.80")
	audit(t, te.db)
}

// A merchant whose WeChat hangs does not keep the top-up query job from the others: its
// first top-up is tried, backed off, and the rest of it waits for the next run, while a
// healthy merchant's lost notification is found in the same run.
func TestQueryTopUpsIsolatesAHangingMerchant(t *testing.T) {
	hanging, healthy := newTopUpEnv(t), newTopUpEnv(t)
	hanging.setUpWeChat()
	healthy.setUpWeChat()
	hanging.drop.Store(true)
	healthy.drop.Store(true)
	for range 10 { // the oldest pending top-ups are the hanging merchant's
		if _, err := hanging.m.StartTopUp(ctx, hanging.merchant, d("50"), ""); err != nil {
			t.Fatal(err)
		}
	}
	tu, err := healthy.m.StartTopUp(ctx, healthy.merchant, d("66"), "")
	if err != nil {
		t.Fatal(err)
	}
	healthy.scanAndPay(tu)
	if err := simulator.InjectFault(sim.Fault{Endpoint: "orderquery", Fault: sim.FaultTimeout, Count: 1000, Merchant: hanging.creds.MchID}); err != nil {
		t.Fatal(err)
	}
	defer simulator.ClearFaults()
	clock.Advance(2 * time.Minute)
	defer clock.Advance(-2 * time.Minute)
	jctx, cancel := context.WithTimeout(ctx, 15*time.Second) // under the hanging merchant's 10 × 5 s
	defer cancel()
	if _, err := healthy.m.QueryTopUps(jctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := healthy.m.TopUp(ctx, healthy.merchant, tu.ID); got.Status != "paid" {
		t.Fatalf("the healthy merchant's paid top-up is %s after the run", got.Status)
	}
	var backedOff int
	if err := hanging.db.Get(&backedOff, `SELECT count(*) FROM topups WHERE merchant_id = $1 AND retry_at > $2 AND last_error <> ''`,
		hanging.merchant, clock.Now()); err != nil || backedOff != 1 {
		t.Fatalf("%d of the hanging merchant's top-ups backed off (%v), want the one tried", backedOff, err)
	}
}

// A merchant holds its own WeChat Pay key, so it can sign a "paid" notification for a top-up it
// never paid. The notification only triggers a check: WeChat's orderquery must say the top-up
// is paid, for its amount, before any asset is credited. The honest payment is still credited.
func TestTopUpNotificationSignedByTheMerchantIsNotEnough(t *testing.T) {
	te := newTopUpEnv(t)
	te.setUpWeChat()
	tu, err := te.m.StartTopUp(ctx, te.merchant, d("500"), "")
	if err != nil {
		t.Fatal(err)
	}
	// Correctly signed with the merchant's key, a made-up transaction id, never paid.
	replies, err := simulator.SendPayNotify(te.creds.MchID, tu.OutTradeNo, sim.NotifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(replies) != 1 || strings.Contains(replies[0], "SUCCESS") {
		t.Errorf("a notification WeChat does not back answered %v", replies)
	}
	if got, _ := te.m.TopUp(ctx, te.merchant, tu.ID); got.Status != "pending" {
		t.Fatalf("an unpaid top-up is %s after a self-signed notification", got.Status)
	}
	equal(t, "available", te.balance(wallet.Account{MerchantID: te.merchant, Kind: wallet.Available}), "0")
	te.scanAndPay(tu)
	te.waitTopUp(tu.ID, "paid")
	equal(t, "available after paying", te.balance(wallet.Account{MerchantID: te.merchant, Kind: wallet.Available}), "500")
	audit(t, te.db)
}

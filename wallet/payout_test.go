package wallet_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// One simulator per test binary (the SDK's base URL is process-wide), on a clock the tests
// move: the payouts share it, so WeChat's day boundary and refund delay agree on both sides.
var (
	simOnce sync.Once
	simS    *sim.Server
	simURL  string
	clock   = &testClock{}
)

type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

func simulator() (*sim.Server, string) {
	simOnce.Do(func() {
		simS = sim.New(sim.Config{Clock: clock.Now, RateLimit: -1, RefundAfter: time.Hour, Hang: 2 * time.Second})
		simURL = httptest.NewServer(simS).URL
	})
	return simS, simURL
}

// payEnv is a merchant registered in the simulator, with Payouts on its client.
type payEnv struct {
	t        testing.TB
	db       *sqlx.DB
	ledger   *wallet.Service
	merchant int64
	creds    wechat.Credentials
	client   *wechat.Client
	sim      *sim.Server
}

// Each payout test gets a database of its own: the package's shared one holds ledger tests
// that move money to in-flight directly, without the packets the payout audit expects.
func newPayEnv(t testing.TB) *payEnv {
	t.Helper()
	db := dbtest.Fresh(t, "pay_"+t.Name())
	s, url := simulator()
	creds, err := s.AddMerchant(sim.MerchantConfig{Name: "红包测试店"})
	if err != nil {
		t.Fatal(err)
	}
	client, err := wechat.NewClient(creds, wechat.Options{APIBase: url, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &payEnv{t: t, db: db, ledger: wallet.NewService(db), merchant: newMerchant(t, db), creds: creds, client: client, sim: s}
}

func (e *payEnv) payouts(opts ...func(*wallet.PayoutConfig)) *wallet.Payouts {
	cfg := wallet.PayoutConfig{
		Clients:    func(context.Context, int64) (wallet.RedPackets, error) { return e.client, nil },
		Rate:       1000,
		Workers:    8,
		Lease:      time.Second,
		CheckEvery: time.Second,
		Now:        clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return wallet.NewPayouts(e.db, e.ledger, cfg)
}

// sharer adds a WeChat user and credits their vault with amount through the real flow
// (top-up, freeze, commission).
func (e *payEnv) sharer(id int64, amount string) (int64, string) {
	e.t.Helper()
	u, err := e.sim.AddUser(sim.User{AppID: e.creds.AppID, Nickname: fmt.Sprintf("分享者%d", id)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.fund(id, amount)
	return id, u.OpenID
}

var fundSeq atomic.Int64

func (e *payEnv) fund(sharer int64, amount string) { e.fundAt(e.merchant, sharer, amount) }

// fundAt credits sharer's vault at merchant with amount through the real flow.
func (e *payEnv) fundAt(merchant, sharer int64, amount string) {
	e.t.Helper()
	if err := e.fundErr(merchant, sharer, amount); err != nil {
		e.t.Fatal(err)
	}
}

// fundErr is fundAt for goroutines other than the test's.
func (e *payEnv) fundErr(merchant, sharer int64, amount string) error {
	k := fundSeq.Add(1)
	if _, err := e.ledger.TopUpAssets(ctx, nil, merchant, d(amount), fmt.Sprintf("t%d", k), ""); err != nil {
		return err
	}
	if _, err := e.ledger.FreezeReserve(ctx, nil, merchant, 1, d(amount), fmt.Sprintf("f%d", k)); err != nil {
		return err
	}
	_, err := e.ledger.EarnCommission(ctx, nil, wallet.Earning{MerchantID: merchant, CampaignID: 1, SharerID: sharer, Amount: d(amount), Key: fmt.Sprintf("c%d", k)})
	return err
}

func auditAll(t *testing.T, db *sqlx.DB) {
	t.Helper()
	vs, err := wallet.Audit(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Error(v)
	}
}

func TestClaimSplitsAndRefusesSmall(t *testing.T) {
	e := newPayEnv(t)
	p := e.payouts()

	s1, o1 := e.sharer(1, "0.99")
	_, err := p.Claim(ctx, e.merchant, s1, o1)
	var small *wallet.ClaimTooSmallError
	if !errors.As(err, &small) || !errors.Is(err, wallet.ErrClaimTooSmall) || !small.Missing.Equal(d("0.01")) {
		t.Fatalf("claim of 0.99: %v", err)
	}
	if small.Error() != "满 1 元才能提现，还差 0.01 元" {
		t.Fatalf("message %q", small.Error())
	}
	if _, err := p.Claim(ctx, e.merchant, 99, "nobody"); !errors.Is(err, wallet.ErrNothingToClaim) {
		t.Fatalf("empty vault: %v", err)
	}

	for i, tc := range []struct {
		vault string
		want  []string
	}{
		{"450.30", []string{"200", "200", "50.30"}},
		{"400.50", []string{"200", "199.50", "1"}},
		{"1", []string{"1"}},
	} {
		s, o := e.sharer(int64(10+i), tc.vault)
		res, err := p.Claim(ctx, e.merchant, s, o)
		if err != nil {
			t.Fatalf("claim of %s: %v", tc.vault, err)
		}
		if len(res.Packets) != len(tc.want) || !res.Total.Equal(d(tc.vault)) {
			t.Fatalf("claim of %s: %d packets totalling %s", tc.vault, len(res.Packets), res.Total)
		}
		for i, w := range tc.want {
			if !res.Packets[i].Amount.Equal(d(w)) || len(res.Packets[i].BillNo) > 28 {
				t.Errorf("claim of %s: packet %d is %s (%s), want %s", tc.vault, i, res.Packets[i].Amount, res.Packets[i].BillNo, w)
			}
		}
		v, _ := e.ledger.Vault(ctx, e.merchant, s)
		if !v.Available.IsZero() || !v.InFlight.Equal(d(tc.vault)) {
			t.Fatalf("after claiming %s: vault %+v", tc.vault, v)
		}
	}
	auditAll(t, e.db)
}

// WeChat allows 10 packets and 1000 yuan per user per day: the 11th packet of a day, and what
// exceeds 1000 yuan, wait for the next day.
func TestDailyLimitsQueueForTomorrow(t *testing.T) {
	e := newPayEnv(t)
	p := e.payouts()
	s, o := e.sharer(1, "5")
	for i := range 11 {
		if i > 0 {
			e.fund(s, "5")
		}
		res, err := p.Claim(ctx, e.merchant, s, o)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 1, false: 0}[i == 10]; res.Queued != want {
			t.Fatalf("claim %d: %d queued, want %d", i+1, res.Queued, want)
		}
	}
	if n, err := p.SendDue(ctx); err != nil || n != 10 {
		t.Fatalf("sent %d today (%v), want 10", n, err)
	}
	ps, _ := p.Packets(ctx, e.merchant, s, 20)
	if ps[0].Status != wallet.PacketQueued || ps[0].SendAfter.Before(clock.Now()) {
		t.Fatalf("the 11th packet: %s after %v", ps[0].Status, ps[0].SendAfter)
	}
	clock.Advance(24 * time.Hour)
	defer clock.Advance(-24 * time.Hour)
	if n, err := p.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("sent %d the next day (%v), want 1", n, err)
	}

	// 1,500 yuan at once: five packets (1,000 yuan) today, three tomorrow.
	big, bo := e.sharer(2, "1500")
	res, err := p.Claim(ctx, e.merchant, big, bo)
	if err != nil || len(res.Packets) != 8 || res.Queued != 3 {
		t.Fatalf("claim of 1500: %d packets, %d queued, %v", len(res.Packets), res.Queued, err)
	}
	auditAll(t, e.db)
}

// Unopened packets come back to the vault after the refund delay and can be claimed again;
// opened ones leave for good.
func TestReceivedAndRefundedPackets(t *testing.T) {
	e := newPayEnv(t)
	p := e.payouts()
	s, o := e.sharer(1, "30")
	res, err := p.Claim(ctx, e.merchant, s, o)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := p.SendDue(ctx); n != 1 {
		t.Fatalf("sent %d", n)
	}
	clock.Advance(2 * time.Hour) // past the simulator's refund delay
	defer clock.Advance(-2 * time.Hour)
	if n, err := p.SyncSent(ctx); err != nil || n != 1 {
		t.Fatalf("synced %d (%v)", n, err)
	}
	ps, _ := p.Packets(ctx, e.merchant, s, 10)
	if ps[0].Status != wallet.PacketRefunded {
		t.Fatalf("unopened packet is %s", ps[0].Status)
	}
	v, _ := e.ledger.Vault(ctx, e.merchant, s)
	if !v.Available.Equal(d("30")) || !v.InFlight.IsZero() {
		t.Fatalf("vault after the refund: %+v", v)
	}

	// Claimed again: a new bill number; this time the user opens it.
	again, err := p.Claim(ctx, e.merchant, s, o)
	if err != nil || again.Packets[0].BillNo == res.Packets[0].BillNo {
		t.Fatalf("second claim: %+v %v", again, err)
	}
	p.SendDue(ctx) //nolint:errcheck
	if err := e.sim.OpenPacket(e.creds.MchID, again.Packets[0].BillNo); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	if n, err := p.SyncSent(ctx); err != nil || n != 1 {
		t.Fatalf("synced %d (%v)", n, err)
	}
	v, _ = e.ledger.Vault(ctx, e.merchant, s)
	if !v.Available.IsZero() || !v.InFlight.IsZero() {
		t.Fatalf("vault after receipt: %+v", v)
	}
	world, _ := e.ledger.Balance(ctx, wallet.Account{MerchantID: e.merchant, Kind: wallet.World})
	if !world.Equal(d("-0")) && !world.Equal(d("0")) {
		// topped up 30 (world −30), 30 received (world +30)
		t.Fatalf("world balance %s, want 0", world)
	}
	auditAll(t, e.db)
}

// NOTENOUGH pauses the merchant's sending and says what to do; failed packets return their
// money to the vault at once.
func TestPauseAndDefiniteFailure(t *testing.T) {
	e := newPayEnv(t)
	p := e.payouts()
	s, o := e.sharer(1, "20")
	if _, err := p.Claim(ctx, e.merchant, s, o); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.InjectFault(sim.Fault{Endpoint: "sendredpack", Fault: "NOTENOUGH", Merchant: e.creds.MchID}); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.SendDue(ctx); n != 0 {
		t.Fatalf("sent %d while WeChat has no money", n)
	}
	pr, err := p.Problem(ctx, e.merchant)
	if err != nil || pr == nil || pr.Code != "NOTENOUGH" || pr.Message == "" {
		t.Fatalf("problem %+v %v", pr, err)
	}
	clock.Advance(time.Minute)
	defer clock.Advance(-time.Minute)
	if n, _ := p.SendDue(ctx); n != 0 {
		t.Fatal("sent while paused")
	}
	if err := p.Resume(ctx, e.merchant); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.SendDue(ctx); n != 1 {
		t.Fatal("not sent after resuming")
	}

	e.fund(s, "7")
	if _, err := p.Claim(ctx, e.merchant, s, o); err != nil {
		t.Fatal(err)
	}
	e.sim.InjectFault(sim.Fault{Endpoint: "sendredpack", Fault: "SEND_FAILED", Merchant: e.creds.MchID}) //nolint:errcheck
	p.SendDue(ctx)                                                                                       //nolint:errcheck
	v, _ := e.ledger.Vault(ctx, e.merchant, s)
	if !v.Available.Equal(d("7")) {
		t.Fatalf("failed packet's money: vault %+v", v)
	}
	auditAll(t, e.db)
}

// Sharer notifications go out once, through the outbox, with the template the merchant chose;
// a kind without a template is skipped, not retried forever.
func TestNotificationsSentOnce(t *testing.T) {
	e := newPayEnv(t)
	p := e.payouts()
	if err := p.SetTemplates(ctx, e.merchant, map[wallet.NoteKind]string{wallet.NoteSent: "TPL_SENT", wallet.NoteRefunded: "TPL_REFUND"}); err != nil {
		t.Fatal(err)
	}
	s, o := e.sharer(1, "12")
	if _, err := e.sim.Follow(e.creds.AppID, o, ""); err != nil { // WeChat only messages followers
		t.Fatal(err)
	}
	if _, err := p.Claim(ctx, e.merchant, s, o); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.SendDue(ctx); n != 1 {
		t.Fatal("packet not sent")
	}
	// A commission notification without a template: skipped.
	if err := wallet.Enqueue(ctx, e.db, wallet.Notification{MerchantID: e.merchant, Key: "commission:order:1", Kind: wallet.NoteCommission, OpenID: o}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := p.SendNotifications(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(3 * time.Second)
	}
	defer clock.Advance(-6 * time.Second)
	var got []sim.TemplateMessage
	for _, m := range e.sim.Templates(e.creds.AppID) {
		if m.ToUser == o {
			got = append(got, m)
		}
	}
	if len(got) != 1 || got[0].TemplateID != "TPL_SENT" || got[0].Data["amount1"] != "12.00元" || got[0].ClientMsgID == "" {
		t.Fatalf("template messages to the sharer: %+v", got)
	}
	var pending int
	if err := e.db.Get(&pending, `SELECT count(*) FROM notifications WHERE merchant_id = $1 AND sent_at IS NULL`, e.merchant); err != nil || pending != 0 {
		t.Fatalf("%d notifications still pending (%v)", pending, err)
	}
}

// countingClient counts the red-packet calls made for one merchant.
type countingClient struct {
	wallet.RedPackets
	sends, infos *atomic.Int64
}

func (c countingClient) SendRedPacket(ctx context.Context, p wechat.RedPacket) (wechat.SendResult, error) {
	c.sends.Add(1)
	return c.RedPackets.SendRedPacket(ctx, p)
}

func (c countingClient) RedPacketInfo(ctx context.Context, billNo string) (wechat.PacketInfo, error) {
	c.infos.Add(1)
	return c.RedPackets.RedPacketInfo(ctx, billNo)
}

// A merchant whose WeChat hangs does not hold up the others' red packets: the sending and the
// status jobs give it a few calls per run (three unusable answers in a row end its run) and
// go on to the healthy merchant.
func TestPayoutJobsIsolateAHangingMerchant(t *testing.T) {
	e := newPayEnv(t) // the healthy merchant
	s, url := simulator()
	hangCreds, err := s.AddMerchant(sim.MerchantConfig{Name: "卡住的店"})
	if err != nil {
		t.Fatal(err)
	}
	hangClient, err := wechat.NewClient(hangCreds, wechat.Options{APIBase: url, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer hangClient.Close()
	hung := newMerchant(t, e.db)
	var sends, infos atomic.Int64
	p := e.payouts(func(c *wallet.PayoutConfig) {
		c.Workers = 2
		c.Lease = time.Minute
		c.CheckEvery = time.Minute
		c.Clients = func(_ context.Context, m int64) (wallet.RedPackets, error) {
			if m == hung {
				return countingClient{hangClient, &sends, &infos}, nil
			}
			return e.client, nil
		}
	})
	// 30 sharers of the hanging merchant with a packet each, sent while its WeChat still worked.
	other := &payEnv{t: t, db: e.db, ledger: e.ledger, merchant: hung, creds: hangCreds, client: hangClient, sim: s}
	for i := range 30 {
		sh, o := other.sharer(int64(100+i), "2")
		if _, err := p.Claim(ctx, hung, sh, o); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := p.SendDue(ctx); err != nil || n != 30 {
		t.Fatalf("sent %d (%v)", n, err)
	}
	// Then its WeChat hangs, with 30 more packets due and 30 to check.
	for _, ep := range []string{"sendredpack", "gethbinfo"} {
		if err := s.InjectFault(sim.Fault{Endpoint: ep, Fault: sim.FaultTimeout, Count: 1000, Merchant: hangCreds.MchID}); err != nil {
			t.Fatal(err)
		}
	}
	defer s.ClearFaults()
	for i := range 30 {
		sh, o := other.sharer(int64(200+i), "2")
		if _, err := p.Claim(ctx, hung, sh, o); err != nil {
			t.Fatal(err)
		}
	}
	healthy, openid := e.sharer(1, "5")
	if _, err := p.Claim(ctx, e.merchant, healthy, openid); err != nil {
		t.Fatal(err)
	}
	sends.Store(0)
	if _, err := p.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := sends.Load(); n > 4 {
		t.Errorf("one sending run called the hanging merchant's WeChat %d times, want at most 4 (3 in a row end its run, 2 workers)", n)
	}
	ps, _ := p.Packets(ctx, e.merchant, healthy, 1)
	if len(ps) != 1 || ps[0].Status != wallet.PacketSent {
		t.Fatalf("the healthy merchant's packet: %+v", ps)
	}

	clock.Advance(2 * time.Minute) // every sent packet is due for a check
	defer clock.Advance(-2 * time.Minute)
	if err := e.sim.OpenPacket(e.creds.MchID, ps[0].BillNo); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SyncSent(ctx); err != nil {
		t.Fatal(err)
	}
	if n := infos.Load(); n > 3 {
		t.Errorf("one status run asked the hanging merchant's WeChat %d times, want at most 3 (3 in a row end its run)", n)
	}
	if ps, _ = p.Packets(ctx, e.merchant, healthy, 1); ps[0].Status != wallet.PacketReceived {
		t.Errorf("the healthy merchant's opened packet is %s after the status run", ps[0].Status)
	}
	auditAll(t, e.db)
}

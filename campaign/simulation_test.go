package campaign_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// The simulation: from a seed, random steps over two merchants with two campaigns each (and
// their top-ups), run through the real services on a database of its own and the simulator, with WeChat's
// notifications delivered when the seed says (late, twice, never, forged, for the wrong
// amount), refunds in the console and in WeChat's platform (notified or not), stock edits,
// early ends, claims,
// jobs run by one replica or by two at once, processes dying between a commit and a WeChat
// call or between WeChat's answer and the commit, simulator faults and clock jumps (past
// order timeouts, ends, hold periods, China midnight). After every step the whole audit
// holds; at the end, once the jobs have run, no order is pending past its timeout and the
// simulator's money equals the ledger's. A failure names the seed and the step; the same seed
// replays the same steps:
//
//	go test ./campaign -run TestSimulation -v -args -sim.seed 7
//
// make test runs 10,000 steps; make soak runs 1,000,000.
var (
	simSeed  = flag.Uint64("sim.seed", 0, "run only this seed of the simulation")
	simFrom  = flag.Int("sim.from", 1, "the first seed of the simulation")
	simSeeds = flag.Int("sim.seeds", 5, "how many seeds, from -sim.from on")
	simSteps = flag.Int("sim.steps", 2000, "steps per seed")
)

func TestSimulation(t *testing.T) {
	seeds := []uint64{}
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for i := range *simSeeds {
			seeds = append(seeds, uint64(*simFrom+i))
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			w := newWorld(t, seed)
			defer w.close()
			start := time.Now()
			var auditing time.Duration
			for w.step = 1; w.step <= *simSteps; w.step++ {
				w.do()
				a := time.Now()
				w.audit()
				auditing += time.Since(a)
			}
			w.drain()
			t.Logf("seed %d: %d steps in %s (auditing %s): %s", seed, *simSteps, time.Since(start).Round(time.Millisecond),
				auditing.Round(time.Millisecond), w.summary())
		})
	}
}

// world is one seed's universe.
type world struct {
	t       *testing.T
	seed    uint64
	rng     *rand.Rand
	db      *sqlx.DB
	svc     [2]*campaign.Service // two replicas on one database
	payouts [2]*wallet.Payouts
	ms      []*simMerchant
	prepays map[string]string // out_trade_no → prepay_id
	step    int
	recent  []string // the last steps, for a failure's report
	counts  map[string]int
	thaw    func()
	auditor *wallet.Auditor
}

type simMerchant struct {
	id     int64
	creds  wechat.Credentials
	camps  []int64
	users  []*campaign.User
	paused bool
}

func newWorld(t *testing.T, seed uint64) *world {
	t.Helper()
	db := dbtest.Fresh(t, fmt.Sprintf("sim_%d", seed))
	w := &world{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15)), db: db,
		prepays: map[string]string{}, counts: map[string]int{}}
	auditor, err := wallet.NewAuditor(ctx, db, append(wallet.Checks(), campaign.Checks()...))
	if err != nil {
		t.Fatal(err)
	}
	w.auditor = auditor
	// Time moves only when the seed says so, from the same instant on every run.
	w.thaw = clock.Freeze(time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC))
	for i := range w.svc {
		svc, err := campaign.NewService(campaign.Config{
			DB: db, Wallet: wallet.NewService(db), Regions: regions, Secret: testSecret, BaseURL: hookURL, Now: clock.Now,
			Merchants: merchantsFor(t, db, func(c *merchant.Config) { c.WeChat.Timeout = time.Second }),
		})
		if err != nil {
			t.Fatal(err)
		}
		w.svc[i] = svc
		w.payouts[i] = wallet.NewPayouts(db, wallet.NewService(db), wallet.PayoutConfig{
			Clients: func(ctx context.Context, m int64) (wallet.RedPackets, error) {
				return svc.Merchants().WeChatFor(ctx, m)
			},
			Rate: 1000, Workers: 2, Lease: time.Minute, CheckEvery: 5 * time.Minute, Now: clock.Now,
		})
	}
	for i := range 2 {
		m, err := w.svc[0].Merchants().CreateMerchant(ctx, fmt.Sprintf("模拟商家%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		creds, err := simulator.AddMerchant(sim.MerchantConfig{Name: fmt.Sprintf("模拟商家%d", i+1)})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.svc[0].Merchants().SetWeChat(ctx, m, creds); err != nil {
			t.Fatal(err)
		}
		simulator.HoldNotifications(creds.MchID, true) // the seed decides when they arrive
		hooks.Store(m, w.svc[w.rng.IntN(2)])
		if _, err := wallet.NewService(db).TopUpAssets(ctx, nil, m, d("5000"), "sim-funds", ""); err != nil {
			t.Fatal(err)
		}
		sm := &simMerchant{id: m, creds: creds}
		for j := range 6 {
			su, err := simulator.AddUser(sim.User{AppID: creds.AppID, Nickname: fmt.Sprintf("用户%d", j)})
			if err != nil {
				t.Fatal(err)
			}
			u, err := w.svc[0].SignIn(ctx, m, wechat.OAuthToken{OpenID: su.OpenID}, nil)
			if err != nil {
				t.Fatal(err)
			}
			sm.users = append(sm.users, u)
		}
		for range 2 {
			sm.camps = append(sm.camps, w.newCampaign(sm))
		}
		w.ms = append(w.ms, sm)
	}
	return w
}

func (w *world) close() {
	for _, m := range w.ms {
		simulator.HoldNotifications(m.creds.MchID, false)
		hooks.Delete(m.id)
	}
	simulator.ClearFaults()
	w.auditor.Close() //nolint:errcheck
	w.thaw()
}

func (w *world) newCampaign(m *simMerchant) int64 {
	w.t.Helper()
	now := clock.Now()
	set := campaign.Settings{
		Title: "模拟活动", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Duration(3+w.rng.IntN(18)) * 24 * time.Hour),
		Commission: d([]string{"0.50", "2.00", "3.30"}[w.rng.IntN(3)]), ProductName: "模拟商品", Price: d([]string{"9.90", "88.00"}[w.rng.IntN(2)]),
		MaxPerOrder: 3, BuyerLimit: []int{0, 0, 4}[w.rng.IntN(3)], BuyBeforeShare: w.rng.IntN(3) == 0, HoldDays: []int{0, 0, 2}[w.rng.IntN(3)],
	}
	c, err := w.svc[0].Create(ctx, m.id, set, 10+w.rng.IntN(40))
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.svc[0].Publish(ctx, m.id, c.ID); err != nil {
		w.t.Fatal(err)
	}
	return c.ID
}

// fail stops the seed with what led to the failure.
func (w *world) fail(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("seed %d, step %d: %s\nlast steps:\n  %s\nreplay: go test ./campaign -run TestSimulation -v -args -sim.seed %d -sim.steps %d",
		w.seed, w.step, fmt.Sprintf(format, args...), strings.Join(w.recent, "\n  "), w.seed, w.step)
}

func (w *world) note(s string) {
	w.recent = append(w.recent, fmt.Sprintf("%d: %s", w.step, s))
	if len(w.recent) > 25 {
		w.recent = w.recent[1:]
	}
}

// expected reports the refusals and WeChat failures a step may meet: a merchant's or a
// follower's mistake, a closed gate, or a fault the seed injected.
func expected(err error) bool {
	var we *wechat.Error
	var small *wallet.ClaimTooSmallError
	return err == nil || errors.As(err, &we) || errors.As(err, &small) ||
		errors.Is(err, campaign.ErrSoldOut) || errors.Is(err, campaign.ErrBuyerLimit) || errors.Is(err, campaign.ErrNotOpen) ||
		errors.Is(err, campaign.ErrInvalid) || errors.Is(err, campaign.ErrConflict) || errors.Is(err, wallet.ErrInsufficientFunds) ||
		errors.Is(err, wallet.ErrNothingToClaim)
}

func (w *world) check(what string, err error) {
	w.t.Helper()
	if !expected(err) {
		w.fail("%s: unexpected error: %v", what, err)
	}
}

func pick[T any](w *world, xs []T) T { return xs[w.rng.IntN(len(xs))] }

// orders of merchant m in one of the statuses, oldest first.
func (w *world) orders(m *simMerchant, statuses ...string) []campaign.Order {
	var os []campaign.Order
	q, args, err := sqlx.In(`SELECT id, out_trade_no, status, amount, refunded, qty FROM orders WHERE merchant_id = ? AND status IN (?) ORDER BY id`, m.id, statuses)
	if err != nil {
		w.fail("%v", err)
	}
	if err := w.db.Select(&os, w.db.Rebind(q), args...); err != nil {
		w.fail("orders: %v", err)
	}
	return os
}

// do takes one random step.
func (w *world) do() {
	m := pick(w, w.ms)
	svc := w.svc[w.rng.IntN(2)]
	r := w.rng.IntN(1000)
	kind := ""
	switch {
	case r < 120:
		kind = "visit"
		c, u, s := pick(w, m.camps), pick(w, m.users), pick(w, m.users)
		camp, err := svc.Get(ctx, m.id, c)
		if err != nil {
			w.fail("%v", err)
		}
		_, err = svc.Bind(ctx, camp, u, svc.ShareToken(c, s.ID))
		w.check(kind, err)
	case r < 290:
		kind = "order"
		co, err := svc.CreateOrder(ctx, pick(w, m.camps), pick(w, m.users), 1+w.rng.IntN(3), "127.0.0.1")
		w.check(kind, err)
		if err == nil {
			w.prepays[co.Order.OutTradeNo] = strings.TrimPrefix(co.Pay.Package, "prepay_id=")
		}
	case r < 300:
		kind = "order, dying before WeChat"
		_, err := svc.ReserveOrder(ctx, pick(w, m.camps), pick(w, m.users), 1)
		w.check(kind, err)
	case r < 440:
		kind = "pay"
		if os := w.orders(m, "pending"); len(os) > 0 {
			o := pick(w, os)
			if p, ok := w.prepays[o.OutTradeNo]; ok {
				simulator.Pay(p, "") //nolint:errcheck // expired or closed at WeChat: the cashier refuses
			}
		}
	case r < 450:
		kind = "pay after the close"
		if os := w.orders(m, "closed"); len(os) > 0 {
			if p, ok := w.prepays[pick(w, os).OutTradeNo]; ok {
				simulator.PayLate(p, "") //nolint:errcheck // already paid at WeChat: refused
			}
		}
	case r < 580:
		kind = "WeChat delivers a notification"
		if held := simulator.HeldNotifications(m.creds.MchID); len(held) > 0 {
			i := w.rng.IntN(len(held))
			kind += " (" + held[i] + ")"
			if _, err := simulator.DeliverHeld(m.creds.MchID, i); err != nil {
				w.fail("deliver: %v", err)
			}
		}
	case r < 600:
		kind = "a duplicate notification"
		if os := w.orders(m, "paid", "refunded", "oversold"); len(os) > 0 {
			replies, err := simulator.SendPayNotify(m.creds.MchID, pick(w, os).OutTradeNo, sim.NotifyOptions{Times: 2})
			if err != nil || len(replies) != 2 || !strings.Contains(replies[1], "SUCCESS") {
				w.fail("a duplicate of a recorded payment was not answered SUCCESS: %v %v", replies, err)
			}
		}
	case r < 615:
		kind = "a forged or wrong-amount notification"
		if os := w.orders(m, "pending", "closed", "paid"); len(os) > 0 {
			o := pick(w, os)
			if _, known := w.prepays[o.OutTradeNo]; !known {
				break // it never reached WeChat: there is nothing to notify
			}
			fen, _ := wallet.ToFen(o.Amount)
			opt := sim.NotifyOptions{Forged: true}
			if w.rng.IntN(2) == 0 {
				opt = sim.NotifyOptions{TotalFen: fen + 1}
			}
			replies, err := simulator.SendPayNotify(m.creds.MchID, o.OutTradeNo, opt)
			if err != nil || len(replies) != 1 || strings.Contains(replies[0], "SUCCESS") {
				w.fail("a forged notification of %s was answered %v (%v)", o.OutTradeNo, replies, err)
			}
		}
	case r < 650:
		kind = "refund in the console"
		if os := w.orders(m, "paid"); len(os) > 0 {
			_, err := svc.Refund(ctx, m.id, pick(w, os).ID, "模拟退款")
			w.check(kind, err)
		}
	case r < 670:
		kind = "refund in WeChat's merchant platform"
		if os := w.orders(m, "paid", "oversold"); len(os) > 0 {
			o := pick(w, os)
			left, _ := wallet.ToFen(o.Amount.Sub(o.Refunded))
			if left > 0 {
				fen := left
				if w.rng.IntN(2) == 0 {
					fen = 1 + w.rng.Int64N(left)
				}
				// Most merchants' platforms send refund notifications to Fenxiao; some do not,
				// and then the refund checks of paid orders (up to a week after payment) find it.
				url := svc.Merchants().RefundNotifyURL(m.id)
				var recent bool
				if err := w.db.Get(&recent, `SELECT COALESCE(paid_at > $2, true) FROM orders WHERE id = $1`, o.ID, clock.Now().Add(-6*24*time.Hour)); err != nil {
					w.fail("%v", err)
				}
				if recent && w.rng.IntN(4) == 0 {
					url = ""
				}
				simulator.RefundInPlatform(m.creds.MchID, o.OutTradeNo, fen, url) //nolint:errcheck // our own refund may have come first
			}
		}
	case r < 680:
		kind = "refund, dying after WeChat answered"
		if os := w.orders(m, "paid"); len(os) > 0 {
			w.refundAndDie(svc, m, pick(w, os))
		}
	case r < 710:
		kind = "stock edit"
		_, err := svc.AdjustStock(ctx, m.id, pick(w, m.camps), []int{-2, -1, 1, 3}[w.rng.IntN(4)])
		w.check(kind, err)
	case r < 713:
		kind = "end early"
		_, err := svc.EndNow(ctx, m.id, pick(w, m.camps))
		w.check(kind, err)
	case r < 722:
		kind = "a new campaign"
		var running int
		if err := w.db.Get(&running, `SELECT count(*) FROM campaigns WHERE merchant_id = $1 AND status = 'published' AND ends_at > $2`, m.id, clock.Now()); err != nil {
			w.fail("%v", err)
		}
		if running < 2 && len(m.camps) < 12 {
			m.camps = append(m.camps, w.newCampaign(m))
		}
	case r < 745:
		kind = "top-up"
		tu, err := svc.Merchants().StartTopUp(ctx, m.id, d([]string{"50", "120.50", "300"}[w.rng.IntN(3)]), "127.0.0.1")
		w.check(kind, err)
		if err == nil && w.rng.IntN(4) > 0 { // the merchant scans the QR code and pays
			prepay, err := simulator.PrepayIDOfCodeURL(tu.CodeURL)
			if err != nil {
				w.fail("top-up QR code: %v", err)
			}
			simulator.Pay(prepay, m.users[0].OpenID) //nolint:errcheck
		}
	case r < 760:
		kind = "claim"
		u := pick(w, m.users)
		_, err := w.payouts[w.rng.IntN(2)].Claim(ctx, m.id, u.ID, u.OpenID)
		w.check(kind, err)
	case r < 775:
		kind = "open a red packet"
		var bills []string
		if err := w.db.Select(&bills, `SELECT bill_no FROM packets WHERE merchant_id = $1 AND status = 'sent' ORDER BY id`, m.id); err != nil {
			w.fail("%v", err)
		}
		if len(bills) > 0 {
			simulator.OpenPacket(m.creds.MchID, pick(w, bills)) //nolint:errcheck // already refunded: refused
		}
	case r < 900:
		kind = w.jobs(w.rng.IntN(4) == 0)
	case r < 940:
		kind = w.fault(m)
	case r < 995:
		d := []time.Duration{30 * time.Second, 2 * time.Minute, 16 * time.Minute, 16 * time.Minute, 3 * time.Hour}[w.rng.IntN(5)]
		switch w.rng.IntN(20) {
		case 0: // past a hold period, a packet's refund, maybe a campaign's end
			d = 50 * time.Hour
		case 1: // to one minute past China's next midnight
			china := clock.Now().In(time.FixedZone("CST", 8*3600))
			d = time.Date(china.Year(), china.Month(), china.Day()+1, 0, 1, 0, 0, china.Location()).Sub(china)
		}
		kind = "time passes: " + d.String()
		clock.Advance(d)
	default:
		kind = "the merchant tops up WeChat Pay and resumes red packets"
		simulator.SetBalance(m.creds.MchID, 100_000_000) //nolint:errcheck
		w.check(kind, w.payouts[0].Resume(ctx, m.id))
	}
	w.counts[strings.SplitN(kind, " (", 2)[0]]++
	w.note(fmt.Sprintf("merchant %d: %s", m.id, kind))
}

// refundAndDie refunds the rest of o at WeChat as the console would, and records nothing: the
// process died between WeChat's answer and its commit. The console's next try, the refund
// notification or a query must bring the refund in.
func (w *world) refundAndDie(svc *campaign.Service, m *simMerchant, o campaign.Order) {
	var n int
	if err := w.db.Get(&n, `SELECT count(*) FROM order_refunds WHERE order_id = $1`, o.ID); err != nil {
		w.fail("%v", err)
	}
	total, _ := wallet.ToFen(o.Amount)
	rest, _ := wallet.ToFen(o.Amount.Sub(o.Refunded))
	wx, err := svc.Merchants().WeChatFor(ctx, m.id)
	if err != nil || rest <= 0 {
		return
	}
	_, err = wx.Refund(ctx, wechat.Refund{OutTradeNo: o.OutTradeNo, OutRefundNo: campaign.RefundNo(o.OutTradeNo, n),
		TotalFen: total, RefundFen: rest, NotifyURL: svc.Merchants().RefundNotifyURL(m.id)})
	w.check("refund at WeChat", err)
}

// jobs runs every job once, on one replica or on both at once.
func (w *world) jobs(both bool) string {
	type job struct {
		name string
		run  func(i int) (int, error)
	}
	all := []job{
		{"close expired", func(i int) (int, error) { return w.svc[i].CloseExpired(ctx) }},
		{"query unpaid", func(i int) (int, error) { return w.svc[i].QueryUnpaid(ctx) }},
		{"refund oversold", func(i int) (int, error) { return w.svc[i].RefundOversold(ctx) }},
		{"settle held", func(i int) (int, error) { return w.svc[i].SettleHeld(ctx) }},
		{"check refunds", func(i int) (int, error) { return w.svc[i].SyncRefunds(ctx) }},
		{"query top-ups", func(i int) (int, error) { return w.svc[i].Merchants().QueryTopUps(ctx) }},
		{"release ended", func(i int) (int, error) { return w.svc[i].ReleaseEnded(ctx) }},
		{"send packets", func(i int) (int, error) { return w.payouts[i].SendDue(ctx) }},
		{"sync packets", func(i int) (int, error) { return w.payouts[i].SyncSent(ctx) }},
	}
	j := pick(w, all)
	if !both {
		_, err := j.run(w.rng.IntN(2))
		w.check(j.name, err)
		return "job: " + j.name
	}
	// Two replicas at once. Faults are aimed at single-replica steps: which replica would take
	// one here is a race, and the replay must not depend on it.
	simulator.ClearFaults()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = j.run(i) }()
	}
	wg.Wait()
	for _, err := range errs {
		w.check(j.name, err)
	}
	return "job on two replicas at once: " + j.name
}

// fault makes the merchant's next call of one WeChat endpoint fail.
func (w *world) fault(m *simMerchant) string {
	type f struct{ endpoint, fault string }
	fs := []f{
		{"unifiedorder", "SYSTEMERROR"}, {"unifiedorder", sim.FaultDrop},
		{"orderquery", "SYSTEMERROR"}, {"orderquery", sim.FaultDrop}, {"orderquery", "FREQ_LIMIT"},
		{"closeorder", "SYSTEMERROR"}, {"closeorder", sim.FaultDrop},
		{"refund", "SYSTEMERROR"}, {"refund", sim.FaultDrop}, {"refundquery", "SYSTEMERROR"},
		{"sendredpack", "SYSTEMERROR"}, {"sendredpack", sim.FaultDrop}, {"sendredpack", "FREQ_LIMIT"}, {"sendredpack", "NOTENOUGH"},
		{"gethbinfo", "SYSTEMERROR"}, {"gethbinfo", sim.FaultDrop},
		{"orderquery", sim.FaultTimeout}, // a hanging call: held until the client gives up
	}
	x := pick(w, fs)
	if x.fault == "NOTENOUGH" {
		m.paused = true
	}
	if err := simulator.InjectFault(sim.Fault{Endpoint: x.endpoint, Fault: x.fault, Merchant: m.creds.MchID}); err != nil {
		w.fail("%v", err)
	}
	return "fault: the next " + x.endpoint + " answers " + x.fault
}

// audit runs every ledger and campaign invariant.
func (w *world) audit() {
	w.t.Helper()
	vs, err := w.auditor.Run(ctx)
	if err != nil {
		w.fail("audit: %v", err)
	}
	if len(vs) > 0 {
		w.fail("the audit fails:\n  %v", vs)
	}
}

// drain lets WeChat and the jobs finish everything: faults end, every held notification is
// delivered, time passes beyond every timeout, hold and packet refund, the jobs run until
// nothing changes. Then nothing is pending past its timeout and WeChat's money is the ledger's.
func (w *world) drain() {
	w.step = -1
	simulator.ClearFaults()
	for _, m := range w.ms {
		simulator.SetBalance(m.creds.MchID, 100_000_000) //nolint:errcheck
		w.check("resume", w.payouts[0].Resume(ctx, m.id))
	}
	for round := range 8 {
		for _, m := range w.ms {
			for len(simulator.HeldNotifications(m.creds.MchID)) > 0 {
				if ok, err := simulator.DeliverHeld(m.creds.MchID, 0); err != nil || !ok {
					w.fail("drain: notification %d of merchant %d answered FAIL (%v)", round, m.id, err)
				}
			}
		}
		clock.Advance(26 * time.Hour)
		for range 3 {
			w.jobs(false)
		}
		for _, j := range []func(context.Context) (int, error){w.svc[0].CloseExpired, w.svc[0].QueryUnpaid, w.svc[0].RefundOversold,
			w.svc[0].SettleHeld, w.svc[0].SyncRefunds, w.svc[0].Merchants().QueryTopUps, w.svc[0].ReleaseEnded, w.payouts[0].SendDue, w.payouts[0].SyncSent} {
			_, err := j(ctx)
			w.check("drain job", err)
		}
		w.audit()
	}
	var stuck []string
	if err := w.db.Select(&stuck, `SELECT out_trade_no || ' ' || status FROM orders
WHERE (status = 'pending' AND expires_at < $1) OR (status = 'oversold' AND refunded_at IS NULL) ORDER BY id`, clock.Now()); err != nil {
		w.fail("%v", err)
	}
	if len(stuck) > 0 {
		w.fail("after the jobs ran, orders are still waiting: %v", stuck)
	}
	w.moneyAgrees()
}

// moneyAgrees compares WeChat's money with the ledger's, per merchant: what buyers paid and
// were refunded, order by order; the merchant's top-ups; and what red packets paid out.
func (w *world) moneyAgrees() {
	led := simulator.Ledger()
	for _, m := range w.ms {
		var ours []struct {
			OutTradeNo    string  `db:"out_trade_no"`
			TransactionID *string `db:"transaction_id"`
			RefundedFen   int64   `db:"refunded_fen"`
		}
		if err := w.db.Select(&ours, `SELECT out_trade_no, transaction_id, (refunded * 100)::bigint AS refunded_fen FROM orders WHERE merchant_id = $1`, m.id); err != nil {
			w.fail("%v", err)
		}
		byNo := map[string]int{}
		for i, o := range ours {
			byNo[o.OutTradeNo] = i
		}
		var topups []struct {
			OutTradeNo    string  `db:"out_trade_no"`
			TransactionID *string `db:"transaction_id"`
		}
		if err := w.db.Select(&topups, `SELECT out_trade_no, transaction_id FROM topups WHERE merchant_id = $1`, m.id); err != nil {
			w.fail("%v", err)
		}
		topupTx := map[string]*string{}
		for _, tu := range topups {
			topupTx[tu.OutTradeNo] = tu.TransactionID
		}
		for _, p := range led.Payments {
			if p.MchID != m.creds.MchID {
				continue
			}
			if p.TradeType == "NATIVE" { // a top-up: paid at WeChat ⇔ credited here, once
				got, ok := topupTx[p.OutTradeNo]
				if !ok || (p.State == "SUCCESS") != (got != nil) || (got != nil && *got != p.TransactionID) {
					w.fail("top-up %s: WeChat says %s (%s), we recorded %v", p.OutTradeNo, p.State, p.TransactionID, got)
				}
				continue
			}
			i, ok := byNo[p.OutTradeNo]
			if !ok {
				w.fail("WeChat has order %s that we do not", p.OutTradeNo)
			}
			paid := p.State == "SUCCESS" || p.State == "REFUND"
			if got := ours[i].TransactionID; paid != (got != nil) || (paid && *got != p.TransactionID) {
				w.fail("order %s: WeChat says %s (%s), we recorded transaction %v", p.OutTradeNo, p.State, p.TransactionID, got)
			}
			if ours[i].RefundedFen != p.RefundedFen {
				w.fail("order %s: WeChat refunded %d fen, we recorded %d", p.OutTradeNo, p.RefundedFen, ours[i].RefundedFen)
			}
		}
		var received int64
		for _, p := range led.Packets {
			if p.MchID == m.creds.MchID && p.Status == "RECEIVED" {
				received += p.AmountFen
			}
		}
		var ledger int64
		if err := w.db.Get(&ledger, `SELECT COALESCE(sum(amount) * 100, 0)::bigint FROM transfers WHERE merchant_id = $1 AND kind = 'payout_received'`, m.id); err != nil {
			w.fail("%v", err)
		}
		if received != ledger {
			w.fail("merchant %d: WeChat paid %d fen in opened packets, the ledger says %d", m.id, received, ledger)
		}
	}
}

func (w *world) summary() string {
	var n struct {
		Orders   int `db:"orders"`
		Paid     int `db:"paid"`
		Refunds  int `db:"refunds"`
		Oversold int `db:"oversold"`
		Late     int `db:"late"`
		Packets  int `db:"packets"`
		TopUps   int `db:"topups"`
	}
	w.db.Get(&n, `SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM orders WHERE status IN ('paid', 'refunded')) AS paid,
    (SELECT count(*) FROM order_refunds) AS refunds, (SELECT count(*) FROM orders WHERE status = 'oversold') AS oversold,
    (SELECT count(*) FROM orders WHERE paid_late) AS late, (SELECT count(*) FROM packets) AS packets,
    (SELECT count(*) FROM topups WHERE status = 'paid') AS topups`) //nolint:errcheck
	return fmt.Sprintf("%d orders (%d paid, %d paid late, %d oversold), %d refunds, %d red packets, %d top-ups paid",
		n.Orders, n.Paid, n.Late, n.Oversold, n.Refunds, n.Packets, n.TopUps)
}

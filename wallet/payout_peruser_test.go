package wallet_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fenxiao/wallet"
	"fenxiao/wechat/sim"
)

// logRecorder keeps the records a Payouts logs.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs(as []slog.Attr) slog.Handler { return &attrsHandler{l, as} }
func (l *logRecorder) WithGroup(string) slog.Handler         { return l }

// attrsHandler adds With's attributes to each record.
type attrsHandler struct {
	*logRecorder
	attrs []slog.Attr
}

func (h *attrsHandler) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	return h.logRecorder.Handle(ctx, r)
}

// find returns the records at level whose attributes hold every key=value of want.
func (l *logRecorder) find(level slog.Level, want map[string]string) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range l.recs {
		if r.Level != level {
			continue
		}
		got := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { got[a.Key] = a.Value.String(); return true })
		ok := true
		for k, v := range want {
			if !strings.Contains(got[k], v) {
				ok = false
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// packetOf is the sharer's newest packet.
func packetOf(t *testing.T, p *wallet.Payouts, merchant, sharer int64) wallet.Packet {
	t.Helper()
	ps, err := p.Packets(ctx, merchant, sharer, 1)
	if err != nil || len(ps) != 1 {
		t.Fatalf("packets of sharer %d: %v %v", sharer, ps, err)
	}
	return ps[0]
}

// One sharer WeChat will not pay — an openid that is not the OA's (OPENID_ERROR), an account
// WeChat blocks or one not real-name verified (NO_AUTH) — fails that packet back to that
// sharer's vault, once, and never pauses the merchant: the other sharers are paid in the same
// run and the next. A user's own daily limit (SENDNUM_LIMIT) waits for WeChat's next day.
// NOTENOUGH, the merchant's own problem, still pauses, logged at WARN.
func TestPerUserAnswersFailOnePacket(t *testing.T) {
	e := newPayEnv(t)
	logs := &logRecorder{}
	p := e.payouts(func(c *wallet.PayoutConfig) { c.Log = slog.New(logs) })
	good, goodOpenID := e.sharer(1, "10")
	stale, staleOpenID := int64(2), "o-of-another-official-account"
	e.fund(stale, "12")
	blocked, blockedOpenID := e.sharer(3, "15")
	limited, limitedOpenID := e.sharer(4, "8")
	for _, f := range []sim.Fault{
		{Endpoint: "sendredpack", Fault: "NO_AUTH", Count: 10, OpenID: blockedOpenID},
		{Endpoint: "sendredpack", Fault: "SENDNUM_LIMIT", OpenID: limitedOpenID},
	} {
		if err := e.sim.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	defer e.sim.ClearFaults()
	// The refused sharers claim first: their answers come before the good sharer's packet.
	for _, c := range []struct {
		sharer int64
		openid string
	}{{stale, staleOpenID}, {blocked, blockedOpenID}, {limited, limitedOpenID}, {good, goodOpenID}} {
		if _, err := p.Claim(ctx, e.merchant, c.sharer, c.openid); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := p.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("sent %d (%v), want the good sharer's 1", n, err)
	}
	if pr, err := p.Problem(ctx, e.merchant); err != nil || pr != nil {
		t.Fatalf("one user's answer paused the merchant: %+v %v", pr, err)
	}
	if pk := packetOf(t, p, e.merchant, good); pk.Status != wallet.PacketSent {
		t.Errorf("the good sharer's packet is %s", pk.Status)
	}
	for _, c := range []struct {
		sharer int64
		amount string
		words  string // what the reason must say
	}{{stale, "12", "公众号"}, {blocked, "15", "实名"}} {
		pk := packetOf(t, p, e.merchant, c.sharer)
		if pk.Status != wallet.PacketFailed {
			t.Errorf("sharer %d's refused packet is %s, want failed", c.sharer, pk.Status)
		}
		if !strings.Contains(pk.Reason, c.words) || !strings.Contains(pk.Reason, "已退回") || strings.Contains(pk.Reason, "wechat") {
			t.Errorf("sharer %d reads %q: want Chinese words saying why (%s) and that the money is back", c.sharer, pk.Reason, c.words)
		}
		v, _ := e.ledger.Vault(ctx, e.merchant, c.sharer)
		if !v.Available.Equal(d(c.amount)) || !v.InFlight.IsZero() {
			t.Errorf("sharer %d's vault after the refusal: %+v, want %s back", c.sharer, v, c.amount)
		}
	}
	pk := packetOf(t, p, e.merchant, limited)
	if pk.Status != wallet.PacketQueued || !pk.SendAfter.After(clock.Now()) || !strings.Contains(pk.Reason, "明天") {
		t.Errorf("the sharer over their daily limit: %s after %v, reason %q; want queued for tomorrow, saying so", pk.Status, pk.SendAfter, pk.Reason)
	}

	// Later runs pay others and return nothing twice.
	other, otherOpenID := e.sharer(5, "3")
	if _, err := p.Claim(ctx, e.merchant, other, otherOpenID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Second)
	defer clock.Advance(-5 * time.Second)
	if n, err := p.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("the next run sent %d (%v), want the new sharer's 1", n, err)
	}
	var returned int
	if err := e.db.Get(&returned, `SELECT count(*) FROM transfers WHERE merchant_id = $1 AND kind = 'payout_returned'`, e.merchant); err != nil || returned != 2 {
		t.Errorf("%d returns to vaults (%v), want 2: one per refused packet", returned, err)
	}
	auditAll(t, e.db)

	// The merchant's own WeChat balance is empty: that pauses, and says so at WARN.
	if err := e.sim.InjectFault(sim.Fault{Endpoint: "sendredpack", Fault: "NOTENOUGH", Merchant: e.creds.MchID}); err != nil {
		t.Fatal(err)
	}
	e.fund(good, "4")
	if _, err := p.Claim(ctx, e.merchant, good, goodOpenID); err != nil {
		t.Fatal(err)
	}
	p.SendDue(ctx) //nolint:errcheck
	if pr, err := p.Problem(ctx, e.merchant); err != nil || pr == nil || pr.Code != "NOTENOUGH" {
		t.Fatalf("NOTENOUGH: problem %+v %v", pr, err)
	}
	warn := logs.find(slog.LevelWarn, map[string]string{"merchant_id": itoa(e.merchant), "answer": "NOTENOUGH"})
	if len(warn) != 1 {
		t.Errorf("%d WARN records of the pause with merchant_id and WeChat's answer, want 1", len(warn))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

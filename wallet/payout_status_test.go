package wallet_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"fenxiao/wallet"
)

// sentPacket claims amount for a new sharer and sends it; it returns the sent packet.
func (e *payEnv) sentPacket(p *wallet.Payouts, sharer int64, amount string) wallet.Packet {
	e.t.Helper()
	s, o := e.sharer(sharer, amount)
	if _, err := p.Claim(ctx, e.merchant, s, o); err != nil {
		e.t.Fatal(err)
	}
	if n, err := p.SendDue(ctx); err != nil || n != 1 {
		e.t.Fatalf("sent %d (%v)", n, err)
	}
	ps, err := p.Packets(ctx, e.merchant, s, 1)
	if err != nil || len(ps) != 1 || ps[0].Status != wallet.PacketSent || ps[0].SentAt == nil {
		e.t.Fatalf("the packet: %+v %v", ps, err)
	}
	return ps[0]
}

// A packet opened a few seconds after sending shows as received within half a minute, not ten
// (it stayed 已发送待领取 from 04:42:46 to 04:46): the first status check comes 30 s after
// sending and the checks back off from there — 1 m, 2 m, 4 m, 8 m, then every 10 m.
func TestFreshPacketPolledSoonThenLess(t *testing.T) {
	e := newPayEnv(t)
	p := e.payouts(func(c *wallet.PayoutConfig) { c.CheckEvery = 10 * time.Minute; c.Lease = time.Minute })
	moved := time.Duration(0)
	advance := func(d time.Duration) { clock.Advance(d); moved += d }
	defer func() { clock.Advance(-moved) }()

	pk := e.sentPacket(p, 1, "5")
	if first := pk.NextAt.Sub(*pk.SentAt); first != 30*time.Second {
		t.Errorf("first status check %s after sending, want 30s", first)
	}
	// Unopened: each check sets the next one further away.
	var gaps []time.Duration
	for range 7 {
		advance(pk.NextAt.Sub(clock.Now()) + time.Millisecond)
		if _, err := p.SyncSent(ctx); err != nil {
			t.Fatal(err)
		}
		prev := pk.NextAt
		pk = packetOf(t, p, e.merchant, pk.SharerID)
		if pk.Status != wallet.PacketSent || !pk.NextAt.After(prev) {
			t.Fatalf("after a check at %s: %s, next check at %s", clock.Now().Sub(*pk.SentAt), pk.Status, pk.NextAt.Sub(*pk.SentAt))
		}
		gaps = append(gaps, pk.NextAt.Sub(*pk.CheckedAt).Round(time.Second))
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	for i := range want {
		if gaps[i] != want[i] {
			t.Fatalf("waits between checks %v, want %v", gaps, want)
		}
	}

	// The reported case: sent, opened 20 s later, received by the check at 30 s.
	fresh := e.sentPacket(p, 2, "6")
	advance(20 * time.Second)
	if err := e.sim.OpenPacket(e.creds.MchID, fresh.BillNo); err != nil {
		t.Fatal(err)
	}
	advance(10*time.Second + time.Millisecond)
	if n, err := p.SyncSent(ctx); err != nil || n != 1 {
		t.Fatalf("the status run 30 s after sending finished %d packets (%v), want the opened one", n, err)
	}
	if got := packetOf(t, p, e.merchant, 2); got.Status != wallet.PacketReceived {
		t.Fatalf("opened 10 s ago, the packet is %s", got.Status)
	}
	auditAll(t, e.db)
}

// A sharer opening their claim records has their own sent packets asked about at once, so one
// they just opened shows as received; reloading asks again only after 30 s, and only about
// their own packets.
func TestRefreshOnClaimRecords(t *testing.T) {
	e := newPayEnv(t)
	var sends, infos atomic.Int64
	p := e.payouts(func(c *wallet.PayoutConfig) {
		c.CheckEvery = 10 * time.Minute
		c.Clients = func(context.Context, int64) (wallet.RedPackets, error) {
			return countingClient{e.client, &sends, &infos}, nil
		}
	})
	moved := time.Duration(0)
	advance := func(d time.Duration) { clock.Advance(d); moved += d }
	defer func() { clock.Advance(-moved) }()

	mine := e.sentPacket(p, 1, "5")
	theirs := e.sentPacket(p, 2, "7")
	if err := e.sim.OpenPacket(e.creds.MchID, mine.BillNo); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.OpenPacket(e.creds.MchID, theirs.BillNo); err != nil {
		t.Fatal(err)
	}
	infos.Store(0)
	if n, err := p.Refresh(ctx, e.merchant, 1); err != nil || n != 1 {
		t.Fatalf("refresh found %d final (%v), want my opened packet", n, err)
	}
	if got := packetOf(t, p, e.merchant, 1); got.Status != wallet.PacketReceived {
		t.Fatalf("my opened packet is %s after the refresh", got.Status)
	}
	if got := packetOf(t, p, e.merchant, 2); got.Status != wallet.PacketSent || infos.Load() != 1 {
		t.Fatalf("another sharer's packet was asked about: %s, %d queries", got.Status, infos.Load())
	}

	// A second packet, not yet opened when the page is first opened.
	e.fund(1, "3")
	if _, err := p.Claim(ctx, e.merchant, 1, mine.OpenID); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.SendDue(ctx); n != 1 {
		t.Fatal("the second packet was not sent")
	}
	second := packetOf(t, p, e.merchant, 1)
	if n, err := p.Refresh(ctx, e.merchant, 1); err != nil || n != 0 {
		t.Fatalf("refresh: %d %v", n, err)
	}
	if err := e.sim.OpenPacket(e.creds.MchID, second.BillNo); err != nil {
		t.Fatal(err)
	}
	infos.Store(0)
	for range 5 { // reloads within 30 s
		advance(5 * time.Second)
		if n, err := p.Refresh(ctx, e.merchant, 1); err != nil || n != 0 {
			t.Fatalf("a reload within 30 s: %d %v", n, err)
		}
	}
	if infos.Load() != 0 {
		t.Errorf("reloads within 30 s asked WeChat %d times, want none", infos.Load())
	}
	advance(5*time.Second + time.Millisecond)
	if n, err := p.Refresh(ctx, e.merchant, 1); err != nil || n != 1 || infos.Load() != 1 {
		t.Fatalf("30 s later: %d final, %d queries (%v), want my second packet received with one query", n, infos.Load(), err)
	}
	auditAll(t, e.db)
}

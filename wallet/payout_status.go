package wallet

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"fenxiao/wechat"
)

// SyncSent asks WeChat about sent packets whose check is due: opened ones are final (money to
// the world), refunded and failed ones return their money to the vault. One merchant's WeChat
// cannot hold up the others: each lease takes at most 20 packets of a merchant (merchants
// interleaved), and a merchant whose WeChat gives unusableInARow unusable answers in a row
// (timeouts, rate limits, configuration) is left alone for the rest of the run (its leased
// packets come back when the lease ends).
func (p *Payouts) SyncSent(ctx context.Context) (int, error) {
	done := 0
	down := map[int64]bool{}
	failing := map[int64]int{} // unusable answers in a row, per merchant
	for ctx.Err() == nil {
		now := p.cfg.Now()
		var batch []Packet
		if err := p.db.SelectContext(ctx, &batch, `
UPDATE packets SET next_at = $2, checked_at = $1
WHERE id IN (
    SELECT id FROM (
        SELECT id, merchant_id, row_number() OVER (PARTITION BY merchant_id ORDER BY next_at, id) AS rn
        FROM packets WHERE status = 'sent' AND next_at <= $1 AND NOT (merchant_id = ANY ($3))) x
    WHERE rn <= 20 ORDER BY rn LIMIT 200)
  AND status = 'sent' AND next_at <= $1
RETURNING `+packetCols, now, now.Add(p.cfg.Lease), pq.Array(keys(down))); err != nil {
			return done, fmt.Errorf("wallet: lease sent packets: %w", err)
		}
		if len(batch) == 0 {
			return done, nil
		}
		for i := range batch {
			pk := &batch[i]
			if down[pk.MerchantID] || ctx.Err() != nil {
				continue
			}
			final, unreachable := p.check(ctx, pk)
			if final {
				done++
			}
			if unreachable {
				failing[pk.MerchantID]++
			} else {
				failing[pk.MerchantID] = 0
			}
			if failing[pk.MerchantID] >= unusableInARow {
				down[pk.MerchantID] = true
			}
		}
	}
	return done, nil
}

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// check asks WeChat about one sent packet and records a final status. unreachable: the
// merchant's WeChat did not give a usable answer (timeout, rate limit, configuration).
func (p *Payouts) check(ctx context.Context, pk *Packet) (final, unreachable bool) {
	log := p.cfg.Log.With("merchant_id", pk.MerchantID, "bill_no", pk.BillNo)
	client, err := p.cfg.Clients(ctx, pk.MerchantID)
	if err != nil {
		log.Error("red-packet status: client", "err", err)
		return false, true
	}
	info, err := client.RedPacketInfo(ctx, pk.BillNo)
	switch wechat.KindOf(err) {
	case wechat.KindUnknown, wechat.KindRateLimited, wechat.KindConfig:
		unreachable = true
	}
	now := p.cfg.Now()
	// The answer is recorded even when the caller stops waiting (a page's refresh).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var status PacketStatus
	switch {
	case err != nil: // NOT_FOUND may mean "still processing"; anything else: ask again later
		status = ""
	case info.Status == wechat.PacketReceived:
		status = PacketReceived
	case info.Status == wechat.PacketRefunded:
		status = PacketRefunded
	case info.Status == wechat.PacketFailed:
		status = PacketFailed
	}
	if status == "" {
		next := now.Add(p.pollDelay(pk, now))
		if _, err := p.db.ExecContext(ctx, `UPDATE packets SET next_at = $2 WHERE id = $1 AND status = 'sent'`, pk.ID, next); err != nil {
			log.Error("red-packet status: reschedule", "err", err)
		}
		return false, unreachable
	}
	if err := p.finish(ctx, pk, status, info.Reason, statusReason(status), now); err != nil {
		log.Error("red-packet status: record", "status", status, "err", err)
		return false, false
	}
	return true, false
}

// pollDelay is how long until the next status check of pk, checked now: its age plus
// FirstCheck, capped at CheckEvery. Checks on time come 30 s, 1 m, 2 m, 4 m, 8 m, then every
// 10 m after sending: a packet is most often opened in its first minutes, when the sharer
// looks for it, and the status job asks about old ones less often.
func (p *Payouts) pollDelay(pk *Packet, now time.Time) time.Duration {
	age := time.Duration(0)
	if pk.SentAt != nil {
		age = max(now.Sub(*pk.SentAt), 0)
	}
	return min(age+p.cfg.FirstCheck, p.cfg.CheckEvery)
}

// refreshMax is how many of a sharer's newest sent packets Refresh asks about.
const refreshMax = 10

// Refresh asks WeChat now about the sharer's sent packets, at most refreshMax of the newest,
// each only if nobody asked about it in the last RefreshEvery: the claim records page calls it
// so that a packet opened a moment ago shows as received, however often the page is reloaded.
// It returns how many packets became final. The packets it takes are leased from the status
// job like the job's own (next_at), so two replicas never both ask.
func (p *Payouts) Refresh(ctx context.Context, merchantID, sharerID int64) (int, error) {
	now := p.cfg.Now()
	var batch []Packet
	if err := p.db.SelectContext(ctx, &batch, `
UPDATE packets SET checked_at = $3, next_at = $4
WHERE id IN (
    SELECT id FROM packets
    WHERE merchant_id = $1 AND sharer_id = $2 AND status = 'sent' AND (checked_at IS NULL OR checked_at <= $5)
    ORDER BY id DESC LIMIT $6
    FOR UPDATE SKIP LOCKED)
RETURNING `+packetCols, merchantID, sharerID, now, now.Add(p.cfg.Lease), now.Add(-p.cfg.RefreshEvery), refreshMax); err != nil {
		return 0, fmt.Errorf("wallet: refresh packets of sharer %d: %w", sharerID, err)
	}
	done, failing := 0, 0
	for i := range batch {
		if ctx.Err() != nil || failing >= unusableInARow {
			// Left leased: the status job asks about them once the lease ends.
			break
		}
		final, unreachable := p.check(ctx, &batch[i])
		if final {
			done++
		}
		if unreachable {
			failing++
		} else {
			failing = 0
		}
	}
	return done, nil
}

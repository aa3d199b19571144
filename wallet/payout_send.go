package wallet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"fenxiao/wechat"
)

// sendLock is the advisory-lock class under which one replica at a time sends a merchant's
// packets, so the per-merchant rate limit holds across replicas ("pay" in ASCII).
const sendLock = 0x706179

// SendDue sends every due packet of every merchant whose sending is not paused, and returns
// how many WeChat accepted. Merchants are sent at the same time, up to Merchants of them,
// those waiting longest first: each has its own rate limit, so one merchant's backlog must
// not hold the others' packets back (sent one merchant after another, ten merchants with a
// minute of packets each meant ten minutes for the last). A merchant's packets are sent by
// one replica at a time (a session advisory lock), at most Rate calls a second with a margin
// (sendRate), Workers at once.
func (p *Payouts) SendDue(ctx context.Context) (int, error) {
	var merchants []int64
	if err := p.db.SelectContext(ctx, &merchants, `
SELECT merchant_id FROM packets
WHERE status IN ('queued', 'sending') AND send_after <= $1 AND next_at <= $1
  AND merchant_id NOT IN (SELECT merchant_id FROM payout_pauses)
GROUP BY merchant_id ORDER BY min(next_at), merchant_id`, p.cfg.Now()); err != nil {
		return 0, fmt.Errorf("wallet: merchants with due packets: %w", err)
	}
	var (
		total atomic.Int64
		wg    sync.WaitGroup
		slots = make(chan struct{}, p.cfg.Merchants)
	)
	for _, m := range merchants {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			n, err := p.sendMerchant(ctx, m)
			total.Add(int64(n))
			if err != nil && ctx.Err() == nil {
				p.cfg.Log.Error("send red packets", "merchant_id", m, "err", err)
			}
		}()
	}
	wg.Wait()
	return int(total.Load()), nil
}

func (p *Payouts) sendMerchant(ctx context.Context, merchantID int64) (int, error) {
	conn, err := p.db.Connx(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var mine bool
	if err := conn.GetContext(ctx, &mine, `SELECT pg_try_advisory_lock($1, $2)`, sendLock, int32(merchantID)); err != nil {
		return 0, err
	}
	if !mine {
		return 0, nil // another replica is sending this merchant's packets
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1, $2)`, sendLock, int32(merchantID)) //nolint:errcheck
	limiter := p.rates.of(merchantID, p.cfg.Rate)
	wait, err := p.takeOver(ctx, conn, merchantID)
	if err != nil {
		return 0, err
	}
	defer p.letGo(conn, merchantID) // before the unlock (defers run last first)
	limiter.notBefore(time.Now().Add(wait))

	client, err := p.cfg.Clients(ctx, merchantID)
	if err != nil {
		return 0, err
	}
	var sendName string
	if err := p.db.GetContext(ctx, &sendName, `SELECT name FROM merchants WHERE id = $1`, merchantID); err != nil {
		return 0, err
	}
	// Packets are leased a batch ahead while the previous ones go out: waiting at the end of
	// each batch for its last answers and the next lease cost a tenth of the rate at 200/s.
	leasing, stopLeasing := context.WithCancel(ctx)
	defer stopLeasing()
	due := make(chan Packet, p.leaseSize())
	leased := make(chan error, 1)
	go func() { leased <- p.leaseInto(leasing, merchantID, due) }()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		sent    int
		stop    bool
		failing int // unusable answers in a row
		workers = make(chan struct{}, p.cfg.Workers)
	)
	for pk := range due {
		workers <- struct{}{}
		// Checked once a worker is free: the one that just finished may have halted us.
		mu.Lock()
		halted := stop
		mu.Unlock()
		if halted {
			<-workers
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-workers; wg.Done() }()
			// Paced in the goroutine that calls, so the call starts right when it is counted.
			if limiter.wait(ctx) != nil {
				return // the run is ending; the packet waits for its lease
			}
			ok, pause, unusable := p.sendOne(ctx, client, truncateRunes(sendName, 32), &pk)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				sent++
			}
			if unusable {
				failing++
			} else {
				failing = 0
			}
			if pause || failing >= unusableInARow {
				stop = true
			}
		}()
	}
	// Packets leased and not sent wait for their lease to end, as a crashed sender's do.
	stopLeasing()
	wg.Wait()
	if lerr := <-leased; err == nil && leasing.Err() == nil {
		err = lerr
	}
	return sent, err
}

// leaseSize is how many packets one lease takes: Workers×8, but no more than a quarter of
// the lease's time can send, so packets leased ahead (two batches at most) go out long
// before their lease ends and another run takes them again.
func (p *Payouts) leaseSize() int {
	n := float64(p.cfg.Workers * 8)
	if byTime := p.cfg.Rate * p.cfg.Lease.Seconds() / 4; byTime < n {
		n = byTime
	}
	return max(int(n), 1)
}

// leaseInto leases the merchant's due packets batch after batch into due, until none are
// left or ctx ends, and closes due.
func (p *Payouts) leaseInto(ctx context.Context, merchantID int64, due chan<- Packet) error {
	defer close(due)
	for {
		batch, err := p.lease(ctx, merchantID, cap(due))
		if err != nil || len(batch) == 0 {
			return err
		}
		for _, pk := range batch {
			select {
			case due <- pk:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// lease hands due packets to this sender: they become "sending" and are left alone by other
// runs until the lease ends. The bill number never changes.
func (p *Payouts) lease(ctx context.Context, merchantID int64, n int) ([]Packet, error) {
	now := p.cfg.Now()
	var ps []Packet
	err := p.db.SelectContext(ctx, &ps, `
UPDATE packets SET status = 'sending', attempts = attempts + 1, next_at = $3
WHERE id IN (
    SELECT id FROM packets
    WHERE merchant_id = $1 AND status IN ('queued', 'sending') AND send_after <= $2 AND next_at <= $2
    ORDER BY next_at, id LIMIT $4
    FOR UPDATE SKIP LOCKED)
  AND merchant_id NOT IN (SELECT merchant_id FROM payout_pauses)
RETURNING `+packetCols, merchantID, now, now.Add(p.cfg.Lease), n)
	if err != nil {
		return nil, fmt.Errorf("wallet: lease packets of merchant %d: %w", merchantID, err)
	}
	return ps, nil
}

// recordTimeout bounds the recording of one WeChat answer.
const recordTimeout = 30 * time.Second

// unusableInARow is how many answers in a row that say nothing (a timeout, an unknown answer,
// "slow down") end a merchant's run: the rest of its packets wait for the next run, so a
// hanging WeChat costs a few calls per run, not one timeout per due packet, and the other
// merchants' packets go out meanwhile. Occasional SYSTEMERRORs do not stop a run.
const unusableInARow = 3

// sendOne sends one packet and records the answer. ok: WeChat accepted it; pause: the
// merchant's sending must stop until they act (empty WeChat balance, configuration);
// unusable: the answer said nothing (the packet is retried later with the same bill number).
func (p *Payouts) sendOne(ctx context.Context, client RedPackets, sendName string, pk *Packet) (ok, pause, unusable bool) {
	log := p.cfg.Log.With("merchant_id", pk.MerchantID, "bill_no", pk.BillNo)
	if p.cfg.crash != nil && p.cfg.crash("leased", pk.BillNo) {
		return false, false, false
	}
	fen, err := ToFen(pk.Amount)
	if err != nil {
		log.Error("packet amount", "err", err)
		return false, false, false
	}
	res, err := client.SendRedPacket(ctx, wechat.RedPacket{
		BillNo: pk.BillNo, OpenID: pk.OpenID, AmountFen: fen, SendName: sendName,
		Wishing: "感谢分享，佣金请收好", ActName: "分享赚佣金", Remark: "分享越多，赚得越多", ClientIP: p.cfg.ServerIP,
	})
	if p.cfg.crash != nil && p.cfg.crash("sent", pk.BillNo) {
		return false, false, false
	}
	// WeChat has answered: record it even if the run is being stopped (a shutdown), or an
	// accepted packet would wait for its lease and be sent again (same bill number).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	now := p.cfg.Now()
	kind := wechat.KindOf(err)
	var rerr error
	switch kind {
	case wechat.KindNone:
		ok, rerr = p.markSent(ctx, pk, res.SendListID, now)
	case wechat.KindFailed: // this packet or this user, never the merchant: see sharerReason
		rerr = p.finish(ctx, pk, PacketFailed, errText(err), sharerReason(err), now)
	case wechat.KindUserDailyLimit:
		next := p.nextDay(now)
		_, rerr = p.db.ExecContext(ctx, `UPDATE packets SET status = 'queued', send_after = $2, next_at = $2, last_error = $3, reason = $4
WHERE id = $1 AND status = 'sending'`, pk.ID, next, errText(err), sharerReason(err))
	case wechat.KindNotEnough, wechat.KindConfig: // the merchant's own WeChat Pay, for every sharer
		pause = true
		rerr = p.pause(ctx, pk, err, now)
	default: // unknown outcome or rate limited: the same bill number again, later
		unusable = true
		_, rerr = p.db.ExecContext(ctx, `UPDATE packets SET next_at = $2, last_error = $3 WHERE id = $1 AND status = 'sending'`,
			pk.ID, now.Add(backoff(pk.Attempts, kind == wechat.KindRateLimited)), errText(err))
	}
	if rerr != nil {
		// The lease will expire and the packet be retried with the same bill number.
		log.Error("record red-packet answer", "err", rerr, "answer", errText(err))
	}
	return ok, pause, unusable
}

// markSent records WeChat's acceptance and queues the sharer's notification in one statement
// (Enqueue's insert, fed by the update): atomic without a transaction's extra round trips,
// once per packet since the update is conditional and the key unique. recorded: this call
// changed the packet (not one recorded before, by a run whose lease had ended).
func (p *Payouts) markSent(ctx context.Context, pk *Packet, sendListID string, now time.Time) (recorded bool, err error) {
	note := NewNote(NoteSent, pk.MerchantID, "sent:"+pk.BillNo, pk.OpenID, "",
		NoteAmount(pk.Amount), "请在微信中拆开红包，24小时内有效", NoteTime(now))
	data, err := json.Marshal(note.Data)
	if err != nil {
		return false, err
	}
	var n int
	err = p.db.GetContext(ctx, &n, `
WITH sent AS (
    UPDATE packets SET status = 'sent', send_list_id = $2, sent_at = $3, next_at = $4, last_error = '', reason = ''
    WHERE id = $1 AND status = 'sending'
    RETURNING merchant_id, bill_no, openid)
, note AS (
    INSERT INTO notifications (merchant_id, msg_key, kind, openid, data)
    SELECT merchant_id, 'sent:' || bill_no, $5, openid, $6 FROM sent
    ON CONFLICT (merchant_id, msg_key) DO NOTHING)
SELECT count(*) FROM sent`, pk.ID, sendListID, now, now.Add(p.cfg.FirstCheck), note.Kind, string(data))
	return n == 1, err
}

// finish closes a packet for good. Failed and refunded packets return their money to the
// vault; received ones send it to the world. Both happen once: the status change is
// conditional and the ledger key is the bill number.
// why is WeChat's answer (for operators), reason what the sharer reads.
func (p *Payouts) finish(ctx context.Context, pk *Packet, status PacketStatus, why, reason string, now time.Time) error {
	return Transact(ctx, p.db, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE packets SET status = $2, finished_at = $3, last_error = $4, reason = $5
WHERE id = $1 AND status IN ('queued', 'sending', 'sent')`, pk.ID, status, now, why, reason)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		switch status {
		case PacketReceived:
			_, err = p.ledger.PayoutReceived(ctx, tx, pk.MerchantID, pk.SharerID, pk.Amount, "packet:"+pk.BillNo+":received", pk.BillNo)
		case PacketRefunded:
			if _, err = p.ledger.PayoutReturned(ctx, tx, pk.MerchantID, pk.SharerID, pk.Amount, "packet:"+pk.BillNo+":returned", pk.BillNo); err == nil {
				err = Enqueue(ctx, tx, NewNote(NoteRefunded, pk.MerchantID, "refunded:"+pk.BillNo, pk.OpenID, "",
					NoteAmount(pk.Amount), "红包24小时未领取，已退回佣金余额", NoteTime(now)))
			}
		default:
			_, err = p.ledger.PayoutReturned(ctx, tx, pk.MerchantID, pk.SharerID, pk.Amount, "packet:"+pk.BillNo+":returned", pk.BillNo)
		}
		return err
	})
}

// pause stops a merchant's sending until they fix the cause (Resume); the packet waits.
func (p *Payouts) pause(ctx context.Context, pk *Packet, cause error, now time.Time) error {
	code := "CONFIG"
	var we *wechat.Error
	if errors.As(cause, &we) && we.Code != "" {
		code = we.Code
	}
	msg := "微信支付配置有误，红包暂停发放：请检查商户号、API 密钥和证书后恢复发放"
	if wechat.KindOf(cause) == wechat.KindNotEnough {
		msg = "微信支付商户余额不足，红包暂停发放：请为商户号充值后恢复发放"
	}
	paused := false
	err := Transact(ctx, p.db, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO payout_pauses (merchant_id, code, message, since) VALUES ($1, $2, $3, $4) ON CONFLICT (merchant_id) DO NOTHING`,
			pk.MerchantID, code, msg, now)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		paused = n == 1
		_, err = tx.ExecContext(ctx, `UPDATE packets SET next_at = $2, last_error = $3 WHERE id = $1 AND status = 'sending'`, pk.ID, now, errText(cause))
		return err
	})
	if err == nil && paused { // once per pause, not once per worker that met it
		p.cfg.Log.Warn("red packets paused until the merchant resumes them", "merchant_id", pk.MerchantID,
			"code", code, "answer", errText(cause), "bill_no", pk.BillNo)
	}
	return err
}

// nextDay is the start of WeChat's next day.
func (p *Payouts) nextDay(now time.Time) time.Time {
	y, m, d := now.In(wechatDay).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, wechatDay)
}

// backoff grows with the attempts: 2 s, 4 s, … capped at 10 minutes; rate limits start at 5 s.
func backoff(attempts int, rateLimited bool) time.Duration {
	d := 2 * time.Second
	if rateLimited {
		d = 5 * time.Second
	}
	for i := 1; i < attempts && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, 10*time.Minute)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return truncateRunes(err.Error(), 300)
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

package wallet

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"fenxiao/wechat"
)

// Sharer notifications go through an outbox: written in the transaction of the event they
// tell about, sent by a job, with the key as WeChat's ClientMsgID so a resend after a crash is
// a no-op on WeChat's side.

// NoteKind is what a notification tells.
type NoteKind string

// Notification kinds; each uses the template id the merchant chose for it.
const (
	NoteCommission NoteKind = "commission"
	NoteSent       NoteKind = "packet_sent"
	NoteRefunded   NoteKind = "packet_refunded"
)

// Notification is one template message to a sharer.
type Notification struct {
	MerchantID int64
	Key        string // unique per merchant: the event ("commission:order:42", "sent:<bill>")
	Kind       NoteKind
	OpenID     string
	Data       map[string]string
	Link       string
}

// Enqueue records a notification in tx; a second one with the same key is ignored.
func Enqueue(ctx context.Context, tx sqlx.ExecerContext, n Notification) error {
	return EnqueueAll(ctx, tx, []Notification{n})
}

// EnqueueAll records notifications of one merchant in tx in one statement (a batch of
// payments); keys recorded before are ignored.
func EnqueueAll(ctx context.Context, tx sqlx.ExecerContext, ns []Notification) error {
	if len(ns) == 0 {
		return nil
	}
	var keys, kinds, openids, data, links []string
	for _, n := range ns {
		if n.MerchantID != ns[0].MerchantID {
			return fmt.Errorf("wallet: notifications of two merchants (%d, %d)", ns[0].MerchantID, n.MerchantID)
		}
		b, err := json.Marshal(n.Data)
		if err != nil {
			return err
		}
		keys, kinds, openids = append(keys, n.Key), append(kinds, string(n.Kind)), append(openids, n.OpenID)
		data, links = append(data, string(b)), append(links, n.Link)
	}
	_, err := tx.ExecContext(ctx, `
INSERT INTO notifications (merchant_id, msg_key, kind, openid, data, link)
SELECT $1, n.key, n.kind, n.openid, n.data::jsonb, n.link FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS n(key, kind, openid, data, link)
ON CONFLICT (merchant_id, msg_key) DO NOTHING`, ns[0].MerchantID, pq.Array(keys), pq.Array(kinds), pq.Array(openids), pq.Array(data), pq.Array(links))
	return err
}

// SetTemplates stores the template ids a merchant chose for the three notifications; an
// empty id turns that notification off.
func (p *Payouts) SetTemplates(ctx context.Context, merchantID int64, commission, sent, refunded string) error {
	_, err := p.db.ExecContext(ctx, `INSERT INTO merchant_templates (merchant_id, commission, packet_sent, packet_refunded) VALUES ($1, $2, $3, $4)
ON CONFLICT (merchant_id) DO UPDATE SET commission = $2, packet_sent = $3, packet_refunded = $4`, merchantID, commission, sent, refunded)
	return err
}

// maxNoteAttempts bounds the retries of one notification (about an hour of backoff).
const maxNoteAttempts = 8

// SendNotifications sends due notifications. Ones whose kind the merchant has no template for
// are marked done unsent.
func (p *Payouts) SendNotifications(ctx context.Context) (int, error) {
	now := p.cfg.Now()
	var batch []struct {
		ID         int64    `db:"id"`
		MerchantID int64    `db:"merchant_id"`
		Key        string   `db:"msg_key"`
		Kind       NoteKind `db:"kind"`
		OpenID     string   `db:"openid"`
		Data       []byte   `db:"data"`
		Link       string   `db:"link"`
		Attempts   int      `db:"attempts"`
		Template   string   `db:"template"`
	}
	if err := p.db.SelectContext(ctx, &batch, `
WITH due AS (
    UPDATE notifications SET next_at = $2, attempts = attempts + 1
    WHERE id IN (SELECT id FROM notifications WHERE sent_at IS NULL AND next_at <= $1 ORDER BY next_at LIMIT 200 FOR UPDATE SKIP LOCKED)
    RETURNING id, merchant_id, msg_key, kind, openid, data, link, attempts)
SELECT due.*, COALESCE(CASE due.kind WHEN 'commission' THEN t.commission WHEN 'packet_sent' THEN t.packet_sent ELSE t.packet_refunded END, '') AS template
FROM due LEFT JOIN merchant_templates t ON t.merchant_id = due.merchant_id`, now, now.Add(p.cfg.Lease)); err != nil {
		return 0, fmt.Errorf("wallet: due notifications: %w", err)
	}
	sent := 0
	for _, n := range batch {
		if n.Template != "" {
			client, err := p.cfg.Clients(ctx, n.MerchantID)
			if err == nil {
				var data map[string]string
				json.Unmarshal(n.Data, &data) //nolint:errcheck // written by Enqueue
				_, err = client.SendTemplate(ctx, wechat.TemplateMessage{ToUser: n.OpenID, TemplateID: n.Template, URL: n.Link, Data: data, ClientMsgID: n.Key})
			}
			switch {
			case err == nil:
				sent++
			case n.Attempts < maxNoteAttempts:
				p.cfg.Log.Warn("template message, will retry", "merchant_id", n.MerchantID, "key", n.Key, "err", err)
				p.db.ExecContext(ctx, `UPDATE notifications SET next_at = $2 WHERE id = $1`, n.ID, now.Add(backoff(n.Attempts, false))) //nolint:errcheck
				continue
			default: // a follower who left, a deleted template: a notification is not worth more
				p.cfg.Log.Warn("template message given up", "merchant_id", n.MerchantID, "key", n.Key, "err", err)
			}
		}
		if _, err := p.db.ExecContext(ctx, `UPDATE notifications SET sent_at = $2 WHERE id = $1`, n.ID, now); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

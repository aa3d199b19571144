package wallet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"fenxiao/wechat"
)

// Notifications go through an outbox: written in the transaction of the event they tell
// about, keyed by that event (so an event told twice is recorded once), sent by a job, with the
// key as WeChat's ClientMsgID so a resend after a crash is a no-op on WeChat's side.

// NoteKind is what a notification tells.
type NoteKind string

// Notification kinds; each uses the template id the merchant chose for it.
const (
	NoteFriendOpened NoteKind = "friend_opened"   // to a sharer: a friend opened the share
	NoteFriendPaid   NoteKind = "friend_paid"     // to a sharer: a friend paid, the commission expected
	NoteCommission   NoteKind = "commission"      // to a sharer: a commission is claimable
	NoteSent         NoteKind = "packet_sent"     // to a sharer: a red packet to open
	NoteRefunded     NoteKind = "packet_refunded" // to a sharer: an unopened packet came back
	NoteBuyerPaid    NoteKind = "buyer_paid"      // to a buyer: the payment is recorded
	NoteShipped      NoteKind = "buyer_shipped"   // to a buyer: the parcel left, with its tracking number
	NoteVerified     NoteKind = "buyer_verified"  // to a buyer: the pickup code was used at the shop
)

// Layout is the keyword layout a kind's template must have, in the style of WeChat's current
// template library (类目模板: thing1, amount2, time3, character_string4 …; the old first /
// keyword1 / remark layout is no longer shown by WeChat). The merchant picks, in the OA's
// template library, a template with these keywords and enters its id for the kind.
type Layout struct {
	Kind     NoteKind
	Title    string // the template's title to look for in the library
	Audience string // 分销员 or 买家
	Fields   []Field
}

// Field is one keyword of a layout. The key's prefix is WeChat's value type: thing (≤20
// characters), amount (a number of yuan), time, character_string (≤32 letters and digits).
type Field struct {
	Key, Label string
}

// Layouts are the notifications in the order the console lists them.
var Layouts = []Layout{
	{NoteFriendOpened, "好友浏览提醒", "分销员", []Field{{"thing1", "活动名称"}, {"thing2", "好友昵称"}, {"time3", "浏览时间"}}},
	{NoteFriendPaid, "好友下单提醒", "分销员", []Field{{"thing1", "活动名称"}, {"thing2", "好友昵称"}, {"amount3", "预计佣金"}, {"time4", "下单时间"}}},
	{NoteCommission, "佣金到账提醒", "分销员", []Field{{"thing1", "活动名称"}, {"amount2", "佣金金额"}, {"time3", "到账时间"}}},
	{NoteSent, "红包发放提醒", "分销员", []Field{{"amount1", "红包金额"}, {"thing2", "领取说明"}, {"time3", "发放时间"}}},
	{NoteRefunded, "红包退回提醒", "分销员", []Field{{"amount1", "退回金额"}, {"thing2", "退回原因"}, {"time3", "退回时间"}}},
	{NoteBuyerPaid, "支付成功提醒", "买家", []Field{{"character_string1", "订单编号"}, {"thing2", "商品名称"}, {"amount3", "支付金额"}, {"time4", "支付时间"}}},
	{NoteShipped, "订单发货提醒", "买家", []Field{{"character_string1", "订单编号"}, {"thing2", "快递公司"}, {"character_string3", "快递单号"}, {"time4", "发货时间"}}},
	{NoteVerified, "核销成功提醒", "买家", []Field{{"character_string1", "订单编号"}, {"thing2", "商品名称"}, {"time3", "核销时间"}}},
}

// LayoutOf returns kind's layout.
func LayoutOf(kind NoteKind) (Layout, bool) {
	for _, l := range Layouts {
		if l.Kind == kind {
			return l, true
		}
	}
	return Layout{}, false
}

// Notification is one template message to a follower.
type Notification struct {
	MerchantID int64
	Key        string // unique per merchant: the event ("commission:order:42", "sent:<bill>")
	Kind       NoteKind
	OpenID     string
	Data       map[string]string
	Link       string
}

// NewNote is a notification of kind whose values fill its layout's fields in order, each cut
// to what WeChat accepts for its type (a longer thing is refused with 47003, not truncated).
// A wrong number of values is a programming error.
func NewNote(kind NoteKind, merchantID int64, key, openID, link string, values ...string) Notification {
	l, ok := LayoutOf(kind)
	if !ok || len(values) != len(l.Fields) {
		panic(fmt.Sprintf("wallet: %d values for notification %q", len(values), kind))
	}
	data := make(map[string]string, len(values))
	for i, f := range l.Fields {
		data[f.Key] = fieldValue(f.Key, values[i])
	}
	return Notification{MerchantID: merchantID, Key: key, Kind: kind, OpenID: openID, Data: data, Link: link}
}

func fieldValue(key, v string) string {
	switch {
	case strings.HasPrefix(key, "thing"):
		if r := []rune(v); len(r) > 20 {
			return string(r[:19]) + "…"
		}
	case strings.HasPrefix(key, "character_string"):
		return truncateRunes(v, 32)
	}
	return v
}

// noteZone is China's time: what a follower reads on a notification.
var noteZone = time.FixedZone("CST", 8*3600)

// NoteTime formats t for a time keyword.
func NoteTime(t time.Time) string { return t.In(noteZone).Format("2006年01月02日 15:04") }

// NoteAmount formats yuan for an amount keyword.
func NoteAmount(yuan decimal.Decimal) string { return yuan.StringFixed(2) + "元" }

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

// SetTemplates stores the template ids a merchant chose, by kind; an empty or missing id turns
// that notification off.
func (p *Payouts) SetTemplates(ctx context.Context, merchantID int64, ids map[NoteKind]string) error {
	var kinds, tpls []string
	for _, l := range Layouts {
		if id := strings.TrimSpace(ids[l.Kind]); id != "" {
			kinds, tpls = append(kinds, string(l.Kind)), append(tpls, id)
		}
	}
	return Transact(ctx, p.db, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM notification_templates WHERE merchant_id = $1 AND NOT kind = ANY($2)`, merchantID, pq.Array(kinds)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO notification_templates (merchant_id, kind, template_id)
SELECT $1, k, t FROM unnest($2::text[], $3::text[]) AS n(k, t)
ON CONFLICT (merchant_id, kind) DO UPDATE SET template_id = EXCLUDED.template_id`, merchantID, pq.Array(kinds), pq.Array(tpls))
		return err
	})
}

// Templates returns the template ids a merchant chose, by kind.
func (p *Payouts) Templates(ctx context.Context, merchantID int64) (map[NoteKind]string, error) {
	var rows []struct {
		Kind NoteKind `db:"kind"`
		ID   string   `db:"template_id"`
	}
	if err := p.db.SelectContext(ctx, &rows, `SELECT kind, template_id FROM notification_templates WHERE merchant_id = $1`, merchantID); err != nil {
		return nil, fmt.Errorf("wallet: templates of merchant %d: %w", merchantID, err)
	}
	out := make(map[NoteKind]string, len(rows))
	for _, r := range rows {
		out[r.Kind] = r.ID
	}
	return out, nil
}

// NoteKeep is how long the outbox keeps a notification the sending job is done with (sent, or
// given up): the failures the console reports are those of this window, and older rows whose
// event cannot recur are purged (campaign.PurgeNotifications).
const NoteKeep = 30 * 24 * time.Hour

// NoteFailures is what a merchant is told about notifications given up on.
type NoteFailures struct {
	Count     int    `db:"count"`
	LastError string `db:"last_error"` // of the latest one
}

// FailedNotifications counts a merchant's notifications given up after their retries within
// NoteKeep: a template fixed a month ago no longer shows its old failures.
func (p *Payouts) FailedNotifications(ctx context.Context, merchantID int64) (NoteFailures, error) {
	var f NoteFailures
	err := p.db.GetContext(ctx, &f, `SELECT count(*) AS count,
    COALESCE((SELECT last_error FROM notifications WHERE merchant_id = $1 AND failed_at > $2 ORDER BY failed_at DESC LIMIT 1), '') AS last_error
FROM notifications WHERE merchant_id = $1 AND failed_at > $2`, merchantID, p.cfg.Now().Add(-NoteKeep))
	if err != nil {
		return f, fmt.Errorf("wallet: failed notifications of merchant %d: %w", merchantID, err)
	}
	return f, nil
}

// SendTest sends each notification the merchant has a template for to openID now, with
// sample values, so the merchant sees on their own phone that every id and layout works. It
// returns how many went out and, by kind, what WeChat refused.
func (p *Payouts) SendTest(ctx context.Context, merchantID int64, openID string) (int, map[NoteKind]error, error) {
	tpls, err := p.Templates(ctx, merchantID)
	if err != nil {
		return 0, nil, err
	}
	client, err := p.cfg.Clients(ctx, merchantID)
	if err != nil {
		return 0, nil, err
	}
	now := p.cfg.Now()
	sent, refused := 0, map[NoteKind]error{}
	for _, l := range Layouts {
		id := tpls[l.Kind]
		if id == "" {
			continue
		}
		n := NewNote(l.Kind, merchantID, "", openID, "", sampleValues(l, now)...)
		if _, err := client.SendTemplate(ctx, wechat.TemplateMessage{ToUser: openID, TemplateID: id, Data: n.Data}); err != nil {
			refused[l.Kind] = err
			continue
		}
		sent++
	}
	return sent, refused, nil
}

// sampleValues fills a layout for a test message.
func sampleValues(l Layout, now time.Time) []string {
	out := make([]string, len(l.Fields))
	for i, f := range l.Fields {
		switch {
		case strings.HasPrefix(f.Key, "amount"):
			out[i] = "8.88元"
		case strings.HasPrefix(f.Key, "time"):
			out[i] = NoteTime(now)
		case strings.HasPrefix(f.Key, "character_string"):
			out[i] = "TEST20261202001"
		default:
			out[i] = "测试消息·" + f.Label
		}
	}
	return out
}

// maxNoteAttempts bounds the retries of one notification (about an hour of backoff).
const maxNoteAttempts = 8

// SendNotifications sends due notifications. Ones whose kind the merchant has no template for
// are marked done unsent; ones WeChat refused maxNoteAttempts times are given up (failed_at)
// and counted for the merchant to see.
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
SELECT due.*, COALESCE(t.template_id, '') AS template
FROM due LEFT JOIN notification_templates t ON t.merchant_id = due.merchant_id AND t.kind = due.kind`, now, now.Add(p.cfg.Lease)); err != nil {
		return 0, fmt.Errorf("wallet: due notifications: %w", err)
	}
	sent := 0
	for _, n := range batch {
		var err error
		if n.Template != "" {
			var client RedPackets
			if client, err = p.cfg.Clients(ctx, n.MerchantID); err == nil {
				var data map[string]string
				json.Unmarshal(n.Data, &data) //nolint:errcheck // written by Enqueue
				_, err = client.SendTemplate(ctx, wechat.TemplateMessage{ToUser: n.OpenID, TemplateID: n.Template, URL: n.Link, Data: data, ClientMsgID: n.Key})
			}
			switch {
			case err == nil:
				sent++
			case n.Attempts < maxNoteAttempts:
				p.cfg.Log.Warn("template message, will retry", "merchant_id", n.MerchantID, "key", n.Key, "err", err)
				if _, err := p.db.ExecContext(ctx, `UPDATE notifications SET next_at = $2, last_error = $3 WHERE id = $1`,
					n.ID, now.Add(backoff(n.Attempts, false)), errText(err)); err != nil {
					return sent, err
				}
				continue
			default: // a follower who left, a deleted template: a notification is not worth more
				p.cfg.Log.Warn("template message given up", "merchant_id", n.MerchantID, "key", n.Key, "err", err)
			}
		}
		var failedAt *time.Time
		if err != nil {
			failedAt = &now
		}
		if _, err := p.db.ExecContext(ctx, `UPDATE notifications SET sent_at = $2, failed_at = $3, last_error = $4 WHERE id = $1`,
			n.ID, now, failedAt, errText(err)); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

package campaign

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/wallet"
	"fenxiao/wechat"
)

// Notifications about campaign events (wallet's outbox sends them). Each is enqueued in the
// transaction of its event, keyed by the event, so it is told at most once however often the
// event is reported; snapshot-mode users get none (their openid is virtual).

// paidNotes are what one paid order tells: the buyer that the payment is recorded; the
// earning sharer that a friend paid (the commission expected) and, unless held, that it is
// credited (a held one is told when it settles).
func (s *Service) paidNotes(c *Campaign, o *Order, cr credit, paidAt time.Time) []wallet.Notification {
	var ns []wallet.Notification
	at := wallet.NoteTime(paidAt)
	if cr.buyerOpenID != "" {
		ns = append(ns, wallet.NewNote(wallet.NoteBuyerPaid, c.MerchantID, fmt.Sprintf("paid:order:%d", o.ID), cr.buyerOpenID,
			fmt.Sprintf("%s/orders/%d", s.CampaignURL(c.ID), o.ID), o.OutTradeNo, c.ProductName, wallet.NoteAmount(o.Amount), at))
	}
	if cr.status == "none" {
		return ns
	}
	ns = append(ns, wallet.NewNote(wallet.NoteFriendPaid, c.MerchantID, fmt.Sprintf("friend-paid:order:%d", o.ID), cr.openID,
		s.CampaignURL(c.ID)+"/commissions", c.Title, friendName(cr.buyerName), wallet.NoteAmount(cr.amount), at))
	if cr.status == "earned" {
		ns = append(ns, s.commissionNote(c.MerchantID, c.ID, c.Title, o.ID, cr.openID, cr.amount, paidAt))
	}
	return ns
}

// commissionNote tells a sharer that amount earned on order orderID is claimable.
func (s *Service) commissionNote(merchantID, campaignID int64, title string, orderID int64, openID string, amount decimal.Decimal, at time.Time) wallet.Notification {
	return wallet.NewNote(wallet.NoteCommission, merchantID, fmt.Sprintf("commission:order:%d", orderID), openID,
		s.CampaignURL(campaignID)+"/commissions", title, wallet.NoteAmount(amount), wallet.NoteTime(at))
}

// enqueueSettled tells the sharer of o, in the transaction that settles its held commission,
// that left of it is now credited.
func (s *Service) enqueueSettled(ctx context.Context, tx *sqlx.Tx, o *Order, left decimal.Decimal) error {
	var row struct {
		OpenID   string `db:"openid"`
		Snapshot bool   `db:"snapshot"`
		Title    string `db:"title"`
	}
	if err := sqlx.GetContext(ctx, tx, &row, `SELECT u.openid, u.snapshot, c.title FROM wechat_users u, campaigns c
WHERE u.id = $1 AND c.id = $2`, *o.SharerID, o.CampaignID); err != nil {
		return fmt.Errorf("campaign: sharer of order %d: %w", o.ID, err)
	}
	if row.Snapshot || !left.IsPositive() {
		return nil
	}
	return wallet.Enqueue(ctx, tx, s.commissionNote(o.MerchantID, o.CampaignID, row.Title, o.ID, row.OpenID, left, s.now()))
}

// friendName is how a sharer's notification names a friend.
func friendName(nickname string) string {
	if strings.TrimSpace(nickname) == "" {
		return "微信用户"
	}
	return nickname
}

// openedNote is the "a friend opened my share" notification of visitor binding to a sharer of
// c, without the sharer's openid (bind's statement takes it from the sharer's row). One per
// (campaign, sharer, friend): opening the link again tells nothing new.
func (s *Service) openedNote(c *Campaign, visitor *User, sharerID int64) (key string, data []byte, link string) {
	n := wallet.NewNote(wallet.NoteFriendOpened, c.MerchantID, fmt.Sprintf("opened:%d:%d:%d", c.ID, sharerID, visitor.ID), "",
		s.CampaignURL(c.ID)+"/commissions", c.Title, friendName(visitor.Nickname), wallet.NoteTime(s.now()))
	data, _ = json.Marshal(n.Data) //nolint:errcheck // a map of strings
	return n.Key, data, n.Link
}

// maxShippedNotes bounds the shipped messages one order sends its buyer: the first, and
// corrections of the carrier or number after it, so a merchant fixing typos cannot flood them.
const maxShippedNotes = 3

// enqueueShipped tells the buyer of o, in tx (the transaction that ships it or corrects its
// carrier or tracking number), where the parcel is: keyed "shipped:order:<id>" the first time
// and "shipped:order:<id>:<digest of carrier and number>" for a correction, so a retried
// request tells nothing twice.
// Past maxShippedNotes a correction is kept on the order and told to nobody.
func (s *Service) enqueueShipped(ctx context.Context, tx sqlx.ExtContext, o *Order, correction bool) error {
	base := fmt.Sprintf("shipped:order:%d", o.ID)
	msgKey := base
	if correction {
		var told int
		if err := sqlx.GetContext(ctx, tx, &told, `SELECT count(*) FROM notifications
WHERE merchant_id = $1 AND (msg_key = $2 OR msg_key LIKE $2 || ':%')`, o.MerchantID, base); err != nil {
			return fmt.Errorf("campaign: shipped messages of order %d: %w", o.ID, err)
		}
		if told >= maxShippedNotes {
			return nil
		}
		// The carrier is the merchant's free text: the key, which WeChat also gets as
		// client_msg_id, carries a digest of it and the number instead, short and plain.
		sum := sha256.Sum256([]byte(o.Carrier + "\x00" + o.TrackingNo))
		msgKey = fmt.Sprintf("%s:%x", base, sum[:8])
	}
	return s.enqueueBuyerNote(ctx, tx, o, func(product string) []string {
		return []string{o.OutTradeNo, o.Carrier, o.TrackingNo, wallet.NoteTime(*o.ShippedAt)}
	}, wallet.NoteShipped, msgKey)
}

// EnqueueVerified tells the buyer of o, in tx (the transaction that marks its code used), that
// the shop verified it. At most once per order.
func (s *Service) EnqueueVerified(ctx context.Context, tx sqlx.ExtContext, o *Order, at time.Time) error {
	return s.enqueueBuyerNote(ctx, tx, o, func(product string) []string {
		return []string{o.OutTradeNo, product, wallet.NoteTime(at)}
	}, wallet.NoteVerified, fmt.Sprintf("verified:order:%d", o.ID))
}

// enqueueBuyerNote enqueues a kind of notification about o to its buyer under msgKey (once per
// key); values get the campaign's product name.
func (s *Service) enqueueBuyerNote(ctx context.Context, tx sqlx.ExtContext, o *Order, values func(product string) []string, kind wallet.NoteKind, msgKey string) error {
	var row struct {
		OpenID   string `db:"openid"`
		Snapshot bool   `db:"snapshot"`
		Product  string `db:"product_name"`
	}
	if err := sqlx.GetContext(ctx, tx, &row, `SELECT u.openid, u.snapshot, c.product_name FROM orders o
JOIN wechat_users u ON u.id = o.buyer_id JOIN campaigns c ON c.id = o.campaign_id WHERE o.id = $1`, o.ID); err != nil {
		return fmt.Errorf("campaign: buyer of order %d: %w", o.ID, err)
	}
	if row.Snapshot {
		return nil
	}
	return wallet.Enqueue(ctx, tx, wallet.NewNote(kind, o.MerchantID, msgKey, row.OpenID,
		fmt.Sprintf("%s/orders/%d", s.CampaignURL(o.CampaignID), o.ID), values(row.Product)...))
}

// receiverQRTTL is how long the console's QR code for binding the test receiver is valid.
const receiverQRTTL = 30 * time.Minute

// receiverScenePrefix starts the scene of a receiver QR (follow scenes start fx<digit>).
const receiverScenePrefix = "fxrcv_"

// Receiver is the merchant's own WeChat user that test messages go to, and the QR code that
// binds a new one while it is valid.
type Receiver struct {
	OpenID    string     `db:"openid"`
	Nickname  string     `db:"nickname"`
	BoundAt   *time.Time `db:"bound_at"`
	QRImage   string     `db:"qr_image_url"`
	QRExpires *time.Time `db:"scene_expires_at"`
}

// Bound reports whether a receiver was bound.
func (r Receiver) Bound() bool { return r.OpenID != "" }

// NotifyReceiver returns the merchant's test receiver; the QR only while it can be scanned.
func (s *Service) NotifyReceiver(ctx context.Context, merchantID int64) (Receiver, error) {
	var r Receiver
	err := s.db.GetContext(ctx, &r, `SELECT r.openid, COALESCE(u.nickname, '') AS nickname, r.bound_at,
    CASE WHEN r.scene_expires_at > $2 THEN r.qr_image_url ELSE '' END AS qr_image_url, r.scene_expires_at
FROM notify_receivers r LEFT JOIN wechat_users u ON u.merchant_id = r.merchant_id AND u.openid = r.openid
WHERE r.merchant_id = $1`, merchantID, s.now())
	if isNoRows(err) {
		return Receiver{}, nil
	}
	if err != nil {
		return r, fmt.Errorf("campaign: notification receiver of merchant %d: %w", merchantID, err)
	}
	return r, nil
}

// IssueReceiverQR asks WeChat for a QR code whose scan (or follow through it) binds whoever
// scans as the merchant's test receiver; it replaces any earlier one. The scene is random and
// single use.
func (s *Service) IssueReceiverQR(ctx context.Context, merchantID int64) (wechat.QR, error) {
	wx, err := s.wechatFor(ctx, merchantID)
	if err != nil {
		return wechat.QR{}, err
	}
	token, err := randomToken(12)
	if err != nil {
		return wechat.QR{}, err
	}
	scene := receiverScenePrefix + strings.NewReplacer("-", "0", "_", "1").Replace(token)
	qr, err := wx.TempQR(ctx, scene, receiverQRTTL)
	if err != nil {
		return wechat.QR{}, err
	}
	expires := s.now().Add(min(receiverQRTTL, time.Until(qr.ExpireAt)))
	if _, err := s.db.ExecContext(ctx, `INSERT INTO notify_receivers (merchant_id, scene, qr_image_url, scene_expires_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (merchant_id) DO UPDATE SET scene = $2, qr_image_url = $3, scene_expires_at = $4`, merchantID, scene, qr.ImageURL, expires); err != nil {
		return wechat.QR{}, fmt.Errorf("campaign: receiver QR of merchant %d: %w", merchantID, err)
	}
	return qr, nil
}

// bindReceiver makes the scanner of a receiver QR the merchant's test receiver, if the scene
// is the one issued and still valid, and returns the reply to show them.
func (s *Service) bindReceiver(ctx context.Context, tx *sqlx.Tx, merchantID int64, e wechat.Event) (string, error) {
	res, err := tx.ExecContext(ctx, `UPDATE notify_receivers SET openid = $3, bound_at = $4, scene = NULL, qr_image_url = '', scene_expires_at = NULL
WHERE merchant_id = $1 AND scene = $2 AND scene_expires_at > $4`, merchantID, e.Scene, e.OpenID, s.now())
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", nil
	}
	return "已绑定为测试消息接收人。回到商家后台点击「发送测试消息」即可在这里收到。", nil
}

// CheckTemplateIDs validates the template ids a merchant typed, by kind: WeChat's ids are
// letters, digits, - and _. Field names are "tpl_<kind>".
func CheckTemplateIDs(ids map[wallet.NoteKind]string) error {
	fields := map[string]string{}
	for k, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		ok := len(id) <= 64
		for _, r := range id {
			ok = ok && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}
		if !ok {
			fields["tpl_"+string(k)] = "模板 ID 只含字母、数字、- 和 _，最长 64 位（公众号后台「模板消息」中复制）"
		}
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return nil
}

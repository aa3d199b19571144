package campaign_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
)

func key(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// noteKeys are the outbox rows of a merchant: key → openid.
func (e *env) noteKeys(t *testing.T) map[string]string {
	t.Helper()
	var rows []struct {
		Key    string `db:"msg_key"`
		OpenID string `db:"openid"`
	}
	if err := e.db.Select(&rows, `SELECT msg_key, openid FROM notifications WHERE merchant_id = $1`, e.merchant); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.Key] = r.OpenID
	}
	return out
}

// What campaign events put in the outbox: a friend opening a share once per friend and
// sharer, however often; a payment tells the buyer and the sharer (friend paid); a held
// commission is told credited only when it settles; a snapshot-mode buyer gets nothing.
func TestCampaignNotificationsEnqueuedOnce(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) { s.HoldDays = 7 })
	a, b, snap := e.user("甲"), e.user("乙"), e.user("快照")
	if _, err := e.db.Exec(`UPDATE wechat_users SET snapshot = true WHERE id = $1`, snap.ID); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)); err != nil {
			t.Fatal(err)
		}
	}
	ob := e.buy(c, b, 2)
	os := e.buy(c, snap, 1)
	keys := e.noteKeys(t)
	want := map[string]string{
		key("opened:%d:%d:%d", c.ID, a.ID, b.ID): a.OpenID,
		key("paid:order:%d", ob.ID):              b.OpenID,
		key("friend-paid:order:%d", ob.ID):       a.OpenID,
	}
	if len(keys) != len(want) {
		t.Fatalf("outbox %v, want %v", keys, want)
	}
	for k, o := range want {
		if keys[k] != o {
			t.Fatalf("outbox %v, want %v", keys, want)
		}
	}
	if _, ok := keys[key("paid:order:%d", os.ID)]; ok {
		t.Fatal("a snapshot-mode buyer is told")
	}
	clock.Advance(7*24*time.Hour + time.Minute)
	defer clock.Advance(-7*24*time.Hour - time.Minute)
	for range 2 {
		if _, err := e.svc.SettleHeld(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if keys = e.noteKeys(t); keys[key("commission:order:%d", ob.ID)] != a.OpenID || len(keys) != 4 {
		t.Fatalf("after settling: outbox %v", keys)
	}
	audit(t, e.db)
}

// noteData is the data of the outbox row with key, nil when there is none.
func (e *env) noteData(t *testing.T, k string) map[string]string {
	t.Helper()
	var rows []struct {
		Data []byte `db:"data"`
	}
	if err := e.db.Select(&rows, `SELECT data FROM notifications WHERE merchant_id = $1 AND msg_key = $2`, e.merchant, k); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return nil
	}
	var d map[string]string
	if err := json.Unmarshal(rows[0].Data, &d); err != nil {
		t.Fatalf("data of %s: %v (%s)", k, err, rows[0].Data)
	}
	return d
}

// Shipping an order tells its buyer, with the tracking number, in the transaction that ships
// it; a correction to another carrier or number tells them the new one (shipping again with
// the same one tells nothing), up to maxShippedNotes messages per order, so a merchant fixing
// typos cannot flood a buyer; a refused shipment tells nothing. A verified pickup code tells
// its buyer once.
func TestShipAndVerifyTellTheBuyer(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(20, func(s *campaign.Settings) { s.Fulfilment = campaign.Delivery })
	u, r := e.user("收件人"), e.user("退款人")
	o, refunded := e.buyWith(c, u, 1, address), e.buyWith(c, r, 1, address)
	if _, err := e.svc.Refund(ctx, e.merchant, refunded.ID, "不要了"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Ship(ctx, e.merchant, refunded.ID, "顺丰速运", "SF0000001"); !errors.Is(err, campaign.ErrConflict) {
		t.Fatalf("shipping a refunded order: %v", err)
	}
	for _, tracking := range []string{"SF1234567890", "SF1234567890", "SF9999999999", "SF9999999999", "SF1111111111", "SF2222222222"} {
		if _, err := e.svc.Ship(ctx, e.merchant, o.ID, "顺丰速运", tracking); err != nil {
			t.Fatal(err)
		}
	}
	shipped := e.noteData(t, key("shipped:order:%d", o.ID))
	if shipped["character_string1"] != o.OutTradeNo || shipped["thing2"] != "顺丰速运" || shipped["character_string3"] != "SF1234567890" {
		t.Fatalf("the shipped notification: %v", shipped)
	}
	var told []string
	if err := e.db.Select(&told, `SELECT data->>'character_string3' FROM notifications WHERE merchant_id = $1
   AND (msg_key = $2 OR msg_key LIKE $2 || ':%') ORDER BY id`, e.merchant, key("shipped:order:%d", o.ID)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"SF1234567890", "SF9999999999", "SF1111111111"}; !slices.Equal(told, want) {
		t.Fatalf("the buyer was told the numbers %v, want %v (the first, then each correction, at most three)", told, want)
	}
	// The keys double as WeChat's client_msg_id: short and plain, whatever the merchant typed
	// as the carrier.
	var keys []string
	if err := e.db.Select(&keys, `SELECT msg_key FROM notifications WHERE merchant_id = $1 AND msg_key LIKE 'shipped:%'`, e.merchant); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if len(k) > 40 || strings.IndexFunc(k, func(r rune) bool { return r > 0x7e || r < 0x21 }) >= 0 {
			t.Errorf("shipping message key %q: want at most 40 printable ASCII characters", k)
		}
	}
	if got, _ := e.svc.Order(ctx, e.merchant, o.ID); got.TrackingNo != "SF2222222222" {
		t.Fatalf("the order keeps %s, want the last correction", got.TrackingNo)
	}
	if d := e.noteData(t, key("shipped:order:%d", refunded.ID)); d != nil {
		t.Fatalf("a refused shipment told the buyer: %v", d)
	}

	shop := e.campaign(20, func(s *campaign.Settings) { s.Fulfilment = campaign.Pickup })
	p := e.buyWith(shop, u, 1, campaign.Contact{})
	if _, err := e.svc.VerifyPickup(ctx, e.merchant, *p.PickupCode); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.VerifyPickup(ctx, e.merchant, *p.PickupCode); !errors.Is(err, campaign.ErrCodeUsed) {
		t.Fatalf("the code again: %v", err)
	}
	if d := e.noteData(t, key("verified:order:%d", p.ID)); d["character_string1"] != p.OutTradeNo || d["thing2"] != shop.ProductName {
		t.Fatalf("the verified notification: %v", d)
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM notifications WHERE merchant_id = $1 AND kind IN ('buyer_shipped', 'buyer_verified')`, e.merchant); err != nil || n != 4 {
		t.Fatalf("%d shipped/verified notifications (%v), want 4: three shipped, one verified", n, err)
	}
	audit(t, e.db)
}

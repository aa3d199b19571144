package campaign_test

import (
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// The outbox forgets what it is done with, but never a key whose event may still come: old
// sent or given-up rows of one-time events go, in batches; rows still to be sent, recent ones,
// "a friend opened my share" of a campaign that ended less than wallet.NoteKeep ago, and the
// shipping messages of an order that may still be corrected stay. Re-enqueuing a kept key
// still tells nothing twice.
func TestPurgeNotifications(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(20, func(s *campaign.Settings) { s.Fulfilment = campaign.Delivery })
	long := e.campaign(5)
	u := e.user("收件人")
	shipped, done := e.buyWith(c, u, 1, address), e.buyWith(c, u, 1, address)
	for _, o := range []*campaign.Order{shipped, done} {
		if _, err := e.svc.Ship(ctx, e.merchant, o.ID, "顺丰速运", "SF1234567890"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.ConfirmReceipt(ctx, u, done.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(`UPDATE campaigns SET ends_at = $2 WHERE id = $1`, long.ID, clock.Now().Add(-wallet.NoteKeep-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	old := clock.Now().Add(-wallet.NoteKeep - time.Hour)
	rows := map[string]*time.Time{ // key → sent_at (nil: still due)
		key("opened:%d:1:2", c.ID):      &old, // running campaign: kept
		key("opened:%d:1:2", long.ID):   &old, // ended long ago: gone
		key("paid:order:%d", done.ID):   &old, // one-time: gone
		key("refunded:BILL-%d", c.ID):   &old, // one-time: gone
		key("sent:BILL-%d", c.ID):       nil,  // not sent yet: kept
		key("commission:order:%d", 999): ptr(clock.Now().Add(-time.Hour)),
	}
	for k, at := range rows {
		if err := wallet.Enqueue(ctx, e.db, wallet.NewNote(wallet.NoteFriendOpened, e.merchant, k, "o", "", "活动", "好友", "12-01 10:00")); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.Exec(`UPDATE notifications SET sent_at = $3 WHERE merchant_id = $1 AND msg_key = $2`, e.merchant, k, at); err != nil {
			t.Fatal(err)
		}
	}
	// The shipping messages (enqueued by Ship) and 12,000 old one-time rows, more than one
	// batch, were sent long ago too.
	if _, err := e.db.Exec(`UPDATE notifications SET sent_at = $2 WHERE merchant_id = $1 AND msg_key LIKE 'shipped:%'`, e.merchant, old); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(`INSERT INTO notifications (merchant_id, msg_key, kind, openid, data, sent_at)
SELECT $1, 'friend-paid:order:' || (1000000 + i), 'friend_paid', 'o', '{}', $2 FROM generate_series(1, 12000) AS i`, e.merchant, old); err != nil {
		t.Fatal(err)
	}

	n, err := e.svc.PurgeNotifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n < 12003 {
		t.Fatalf("purged %d rows, want at least this merchant's 12,003", n)
	}
	keys := e.noteKeys(t)
	for k, keep := range map[string]bool{
		key("opened:%d:1:2", c.ID): true, key("opened:%d:1:2", long.ID): false,
		key("paid:order:%d", done.ID): false, key("refunded:BILL-%d", c.ID): false,
		key("sent:BILL-%d", c.ID): true, key("commission:order:%d", 999): true,
		key("shipped:order:%d", shipped.ID): true, key("shipped:order:%d", done.ID): false,
	} {
		if _, ok := keys[k]; ok != keep {
			t.Errorf("%s: kept %v, want %v", k, ok, keep)
		}
	}
	var left int
	if err := e.db.Get(&left, `SELECT count(*) FROM notifications WHERE merchant_id = $1 AND msg_key LIKE 'friend-paid:order:10%'`, e.merchant); err != nil || left != 0 {
		t.Fatalf("%d of the 12,000 old rows left (%v)", left, err)
	}

	// A kept key still deduplicates: the friend's opening is not told again.
	if err := wallet.Enqueue(ctx, e.db, wallet.NewNote(wallet.NoteFriendOpened, e.merchant, key("opened:%d:1:2", c.ID), "o", "", "活动", "好友", "12-01 10:00")); err != nil {
		t.Fatal(err)
	}
	var count int
	if err := e.db.Get(&count, `SELECT count(*) FROM notifications WHERE merchant_id = $1 AND msg_key = $2`, e.merchant, key("opened:%d:1:2", c.ID)); err != nil || count != 1 {
		t.Fatalf("%d rows of the kept key (%v)", count, err)
	}
	if _, err := e.svc.PurgeNotifications(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.noteKeys(t)[key("shipped:order:%d", shipped.ID)]; !ok {
		t.Fatal("a second purge deleted a kept row")
	}
}

func ptr[T any](v T) *T { return &v }

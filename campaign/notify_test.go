package campaign_test

import (
	"fmt"
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

package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wechat"
)

// A burst of page views is written whole, in batches, with the shares among it: 3,000 views
// by three visitors and one share queued at once are all counted after a flush, and nothing
// is dropped.
func TestRecorderWritesBurstsInBatches(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("统计店")
	c := st.campaign(m, 10)
	ctx := context.Background()
	users := visitors(t, st, m, "burst", 3)
	const views = 3000
	for i := range views {
		st.srv.visits.view(c, users[i%len(users)])
		if i == views/2 {
			st.srv.visits.share(c, users[0], "link")
		}
	}
	if !st.srv.visits.flush(10 * time.Second) {
		t.Fatal("the recorder did not drain its queue in 10 s")
	}
	stats, err := st.srv.campaign.Stats(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Views != views || stats.Visitors != len(users) || stats.Shares != 1 || st.srv.visits.dropped.Load() != 0 {
		t.Fatalf("after %d views and a share: %+v, %d dropped", views, stats, st.srv.visits.dropped.Load())
	}
}

// A steady stream of page views, as a busy landing page sends them, is written a few times a
// second, not once per millisecond: 600 views by 64 visitors over 0.6 s take at most 10
// writes (before, the writer wrote whatever a millisecond brought: hundreds of write
// transactions a second, each updating the same visitors' rows), and every view counts.
func TestRecorderWritesAStreamAFewTimesASecond(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("流量店")
	c := st.campaign(m, 10)
	ctx := context.Background()
	users := visitors(t, st, m, "stream", 64)
	writes := st.srv.visits.writes.Load()
	const views = 600
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := range views {
		<-tick.C
		st.srv.visits.view(c, users[i%len(users)])
	}
	if !st.srv.visits.flush(10 * time.Second) {
		t.Fatal("the recorder did not drain its queue in 10 s")
	}
	if n := st.srv.visits.writes.Load() - writes; n > 10 {
		t.Errorf("%d views over %v took %d writes, want ≤ 10", views, views*time.Millisecond, n)
	}
	stats, err := st.srv.campaign.Stats(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Views != views || stats.Visitors != len(users) {
		t.Fatalf("after %d views by %d visitors: %+v", views, len(users), stats)
	}
}

// visitors signs in n users of m straight through the service, openids prefix-0, prefix-1, ….
func visitors(t *testing.T, st *h5Stack, m *h5Merchant, prefix string, n int) []*campaign.User {
	t.Helper()
	users := make([]*campaign.User, n)
	for i := range users {
		u, err := st.srv.campaign.SignIn(context.Background(), m.id, wechat.OAuthToken{OpenID: fmt.Sprintf("%s-%d", prefix, i)}, &wechat.User{Nickname: "访客"})
		if err != nil {
			t.Fatal(err)
		}
		users[i] = u
	}
	return users
}

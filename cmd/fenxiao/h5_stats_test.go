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
	var users []*campaign.User
	for i := range 3 {
		u, err := st.srv.campaign.SignIn(ctx, m.id, wechat.OAuthToken{OpenID: fmt.Sprintf("burst-%d", i)}, &wechat.User{Nickname: "访客"})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
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

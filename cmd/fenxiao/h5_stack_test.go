package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// h5Stack is the whole server as make dev runs it: the simulator's bridge and cashier served
// through the server's own origin, and region gates using the IP chosen for each simulated
// user on the authorize page.
type h5Stack struct {
	t    testing.TB
	srv  *server
	base string
	sim  *sim.Server
}

func newH5Stack(t testing.TB) *h5Stack {
	t.Helper()
	return newH5StackWith(t, nil)
}

// newH5StackWith is newH5Stack with configure changing the configuration first.
func newH5StackWith(t testing.TB, configure func(*Config)) *h5Stack {
	t.Helper()
	s, simURL := testSim()
	dev := &devSimulator{sim: s, url: simURL}
	srv, base := startStackWith(t, &hooks{routes: dev.routes, ready: func(ctx context.Context, srv *server) error {
		srv.SimIP = s.ClientIP
		return nil
	}}, configure)
	return &h5Stack{t: t, srv: srv, base: base, sim: s}
}

// h5Merchant is a merchant with its official account in the simulator and 1,000 yuan of
// red-packet assets.
type h5Merchant struct {
	id    int64
	creds wechat.Credentials
}

func (st *h5Stack) merchant(name string) *h5Merchant {
	st.t.Helper()
	ctx := context.Background()
	m, err := st.srv.Merchants.CreateMerchant(ctx, name)
	if err != nil {
		st.t.Fatal(err)
	}
	creds, err := st.sim.AddMerchant(sim.MerchantConfig{Name: name, CallbackURL: fmt.Sprintf("%s/wechat/oa/%d", st.base, m)})
	if err != nil {
		st.t.Fatal(err)
	}
	if err := st.srv.Merchants.SetWeChat(ctx, m, creds); err != nil {
		st.t.Fatal(err)
	}
	if _, err := st.srv.Wallet.TopUpAssets(ctx, nil, m, decimal.NewFromInt(1000), "h5-test-funds", ""); err != nil {
		st.t.Fatal(err)
	}
	return &h5Merchant{id: m, creds: creds}
}

// campaign creates and publishes a running campaign of m; opts change its settings.
func (st *h5Stack) campaign(m *h5Merchant, stock int, opts ...func(*campaign.Settings)) *campaign.Campaign {
	st.t.Helper()
	ctx := context.Background()
	now := time.Now()
	set := campaign.Settings{
		Title: "明前龙井 · 分享赚", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(72 * time.Hour),
		Commission: decimal.NewFromInt(5), ProductName: "西湖明前龙井 250g 礼盒", Price: decimal.NewFromInt(68),
		Description: "今年头采，手工炒制，豆香清雅。", MaxPerOrder: 5, PosterEnabled: true,
	}
	for _, o := range opts {
		o(&set)
	}
	c, err := st.srv.Campaign.Create(ctx, m.id, set, stock)
	if err != nil {
		st.t.Fatal(err)
	}
	if c, err = st.srv.Campaign.Publish(ctx, m.id, c.ID); err != nil {
		st.t.Fatal(err)
	}
	return c
}

// user returns the simulated user of m with this nickname.
func (st *h5Stack) user(m *h5Merchant, nickname string) sim.User {
	st.t.Helper()
	for _, u := range st.sim.Users(m.creds.AppID) {
		if u.Nickname == nickname {
			return u
		}
	}
	st.t.Fatalf("no simulated user %s", nickname)
	return sim.User{}
}

// authorizeNew answers the simulator's OAuth page as a new user: the real click path.
type newUser struct {
	nickname   string
	subscribed bool
	ip         string // one of the page's regions; "" keeps the first (广东 深圳)
	snapshot   bool
}

func authorizeNew(t *testing.T, ctx context.Context, u newUser) {
	t.Helper()
	waitFor(t, ctx, "the authorize page", `document.querySelector('form[action="/connect/oauth2/authorize"]')`)
	actions := []chromedp.Action[chromedp.Void]{
		chromedp.Click(chromedp.CSS(`input[name=user][value=new]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=nickname]`), u.nickname),
	}
	if u.ip != "" {
		actions = append(actions, chromedp.SetValue(chromedp.CSS(`select[name=client_ip]`), u.ip))
	}
	do(t, ctx, "fill the authorize page", actions...)
	eval[bool](t, ctx, fmt.Sprintf(`document.querySelector('input[name=subscribed]').checked = %v`, u.subscribed))
	eval[bool](t, ctx, fmt.Sprintf(`document.querySelector('input[name=snapshot]').checked = %v`, u.snapshot))
	tap(t, ctx, "allow", `button[value=allow]`)
}

// authorizeAs answers the simulator's OAuth page as an existing user.
func authorizeAs(t *testing.T, ctx context.Context, openid string) {
	t.Helper()
	waitFor(t, ctx, "the authorize page", `document.querySelector('form[action="/connect/oauth2/authorize"]')`)
	do(t, ctx, "pick the user", chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name=user][value=%q]`, openid))),
		chromedp.Click(chromedp.CSS(`button[value=allow]`)))
}

// requests records the URL of every request a browser makes.
type requests struct {
	mu   sync.Mutex
	urls []string
}

func recordRequests(t *testing.T, ctx context.Context) *requests {
	t.Helper()
	r := &requests{}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			r.mu.Lock()
			r.urls = append(r.urls, e.Request.URL)
			r.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

// since returns the URLs recorded from index i on, and the current index.
func (r *requests) since(i int) ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.urls[i:]...), len(r.urls)
}

// offOrigin returns the URLs that are not on base's origin (data: URLs are part of the page).
func offOrigin(urls []string, base string) []string {
	var off []string
	for _, u := range urls {
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
			off = append(off, u)
		}
	}
	return off
}

package campaign_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/campaign/merchant/merchanttest"
	"fenxiao/campaign/region"
	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// One simulator and one callback server for the package: the SDK's base URL is a process
// global. The callback server plays Fenxiao's WeChat endpoints for whichever Service the
// current test registered.
var (
	simulator *sim.Server
	simURL    string
	hookURL   string
	regions   *region.DB
	clock     = &merchanttest.Clock{} // shared by the simulator and the services
	hooks     sync.Map                // merchant id → *campaign.Service
	ctx       = context.Background()
)

func TestMain(m *testing.M) {
	var err error
	if regions, err = region.Load(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	simulator = sim.New(sim.Config{Clock: clock.Now, NotifyFactor: 1000, Hang: 10 * time.Second})
	simSrv := httptest.NewServer(simulator)
	simURL = simSrv.URL
	hookSrv := httptest.NewServer(http.HandlerFunc(serveHook))
	hookURL = hookSrv.URL
	code := dbtest.Main(m, "campaign")
	simulator.Close()
	simSrv.Close()
	hookSrv.Close()
	os.Exit(code)
}

// serveHook routes /wechat/pay/{merchant}/notify, …/topup, …/refund and /wechat/oa/{merchant}
// to the test's Service, as cmd/fenxiao does in production.
func serveHook(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 3 {
		http.NotFound(w, r)
		return
	}
	m, _ := strconv.ParseInt(parts[2], 10, 64)
	if parts[1] == "oa" {
		m, _ = strconv.ParseInt(parts[2], 10, 64)
	}
	v, ok := hooks.Load(m)
	if !ok {
		http.NotFound(w, r)
		return
	}
	svc := v.(*campaign.Service)
	switch {
	case parts[1] == "oa":
		body, _ := io.ReadAll(io.LimitReader(r.Body, wechat.MaxCallbackBody))
		reply, err := svc.HandleOACallback(r.Context(), m, r.URL.Query(), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		w.Write(reply) //nolint:errcheck
	case len(parts) == 4:
		body := make([]byte, 0, 2048)
		buf := make([]byte, 2048)
		for {
			n, err := r.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		var err error
		switch parts[3] {
		case "notify":
			err = svc.HandlePayNotify(r.Context(), m, body)
		case "topup":
			err = svc.Merchants().HandleTopUpNotify(r.Context(), m, body)
		default:
			err = svc.HandleRefundNotify(r.Context(), m, body)
		}
		if err != nil {
			w.Write(wechat.NotifyReply(false, err.Error())) //nolint:errcheck
			return
		}
		w.Write(wechat.NotifyReply(true, "OK")) //nolint:errcheck
	default:
		http.NotFound(w, r)
	}
}

// env is one merchant with WeChat set up in the simulator and funded red-packet assets.
type env struct {
	t        testing.TB
	db       *sqlx.DB
	svc      *campaign.Service
	wallet   *wallet.Service
	merchant int64
	creds    wechat.Credentials
}

// testSecret is SECRET_KEY in the tests.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// merchantsFor is a merchant side over db that speaks to the simulator, on the test clock;
// adjust changes its config first.
func merchantsFor(t testing.TB, db *sqlx.DB, adjust ...func(*merchant.Config)) *merchant.Service {
	t.Helper()
	cfg := merchant.Config{
		DB: db, Wallet: wallet.NewService(db), Secret: testSecret, BaseURL: hookURL,
		WeChat: wechat.Options{APIBase: simURL, BrowserBase: simURL, Timeout: 5 * time.Second},
		Now:    clock.Now,
	}
	for _, a := range adjust {
		a(&cfg)
	}
	m, err := merchant.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() }) //nolint:errcheck // its clients' certificate files
	return m
}

func newService(t testing.TB, db *sqlx.DB) *campaign.Service {
	t.Helper()
	svc, err := campaign.NewService(campaign.Config{
		DB: db, Wallet: wallet.NewService(db), Merchants: merchantsFor(t, db), Regions: regions,
		Secret: testSecret, BaseURL: hookURL, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func newEnv(t testing.TB, funds string) *env {
	t.Helper()
	db := dbtest.DB(t)
	e := &env{t: t, db: db, svc: newService(t, db), wallet: wallet.NewService(db)}
	var err error
	if e.merchant, err = e.svc.Merchants().CreateMerchant(ctx, "测试商家 "+t.Name()); err != nil {
		t.Fatal(err)
	}
	if e.creds, err = simulator.AddMerchant(sim.MerchantConfig{Name: "测试商家", CallbackURL: fmt.Sprintf("%s/wechat/oa/%d", hookURL, e.merchant)}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Merchants().SetWeChat(ctx, e.merchant, e.creds); err != nil {
		t.Fatal(err)
	}
	hooks.Store(e.merchant, e.svc)
	t.Cleanup(func() { hooks.Delete(e.merchant) })
	if funds != "" {
		if _, err := e.wallet.TopUpAssets(ctx, nil, e.merchant, d(funds), "test-funds", ""); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// The field-message and money checks, shared with the merchant side's tests.
var (
	fields    = merchanttest.Fields
	wantField = merchanttest.WantField
	equal     = merchanttest.Money
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// settings returns valid settings for a campaign running now; opts adjust them.
func settings(opts ...func(*campaign.Settings)) campaign.Settings {
	now := clock.Now()
	s := campaign.Settings{
		Title: "春茶分享赚", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(24 * time.Hour),
		Commission: d("2.00"), ProductName: "明前龙井 250g", Price: d("88.00"), MaxPerOrder: 10, PosterEnabled: true,
	}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// campaign creates and publishes a campaign with stock units.
func (e *env) campaign(stock int, opts ...func(*campaign.Settings)) *campaign.Campaign {
	e.t.Helper()
	c, err := e.svc.Create(ctx, e.merchant, settings(opts...), stock)
	if err != nil {
		e.t.Fatal(err)
	}
	if c, err = e.svc.Publish(ctx, e.merchant, c.ID); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// user adds a WeChat user to the simulator and signs them in.
func (e *env) user(nickname string, opts ...func(*sim.User)) *campaign.User {
	e.t.Helper()
	su := sim.User{AppID: e.creds.AppID, Nickname: nickname}
	for _, o := range opts {
		o(&su)
	}
	su, err := simulator.AddUser(su)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.svc.SignIn(ctx, e.merchant, wechat.OAuthToken{OpenID: su.OpenID}, &wechat.User{OpenID: su.OpenID, Nickname: nickname})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// buy creates an order and pays it in the simulator's cashier, waiting for the notification.
func (e *env) buy(c *campaign.Campaign, u *campaign.User, qty int) *campaign.Order {
	e.t.Helper()
	co, err := e.svc.CreateOrder(ctx, c.ID, u, qty, "127.0.0.1")
	if err != nil {
		e.t.Fatalf("order by %s: %v", u.Nickname, err)
	}
	e.pay(co, u)
	return e.waitStatus(co.Order.ID, campaign.Paid)
}

func (e *env) pay(co *campaign.Checkout, u *campaign.User) {
	e.t.Helper()
	if err := simulator.Pay(strings.TrimPrefix(co.Pay.Package, "prepay_id="), u.OpenID); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) waitStatus(orderID int64, want campaign.OrderStatus) *campaign.Order {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := e.svc.Order(ctx, e.merchant, orderID)
		if err != nil {
			e.t.Fatal(err)
		}
		if o.Status == want {
			return o
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("order %d is %s, want %s", orderID, o.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) balance(a wallet.Account) decimal.Decimal {
	e.t.Helper()
	b, err := e.wallet.Balance(ctx, a)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) reload(c *campaign.Campaign) *campaign.Campaign {
	e.t.Helper()
	c, err := e.svc.Get(ctx, e.merchant, c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// audit runs every ledger and campaign invariant on the package database.
func audit(t testing.TB, db *sqlx.DB) {
	t.Helper()
	for _, f := range []func(context.Context, sqlx.QueryerContext) ([]wallet.Violation, error){wallet.Audit, campaign.Audit} {
		vs, err := f(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			t.Errorf("audit: %s", v)
		}
	}
}

func wechatToken(openid string, snapshot bool) wechat.OAuthToken {
	return wechat.OAuthToken{OpenID: openid, Snapshot: snapshot}
}

// seedable makes a merchant named name on db with the simulator's WeChat and 10 yuan of assets,
// and publishes a one-unit campaign of it that started ten days ago: what seed.Fill fills.
func seedable(t testing.TB, svc *campaign.Service, db *sqlx.DB, name string) (int64, *campaign.Campaign) {
	t.Helper()
	m, err := svc.Merchants().CreateMerchant(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := simulator.AddMerchant(sim.MerchantConfig{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Merchants().SetWeChat(ctx, m, creds); err != nil {
		t.Fatal(err)
	}
	if _, err := wallet.NewService(db).TopUpAssets(ctx, nil, m, d("10"), "seed-funds", ""); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Create(ctx, m, settings(func(s *campaign.Settings) { s.StartsAt = clock.Now().Add(-10 * 24 * time.Hour) }), 1)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = svc.Publish(ctx, m, c.ID); err != nil {
		t.Fatal(err)
	}
	return m, c
}

package merchant_test

import (
	"context"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/campaign/merchant"
	"fenxiao/campaign/merchant/merchanttest"
	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// One simulator for the package: the SDK's base URL is a process global.
var (
	simulator *sim.Server
	simURL    string
	clock     = &merchanttest.Clock{} // shared by the simulator and the services
	ctx       = context.Background()
)

// The field-message and money checks, shared with the engine's tests.
var (
	fields    = merchanttest.Fields
	wantField = merchanttest.WantField
	equal     = merchanttest.Money
)

// testSecret is SECRET_KEY in the tests.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

func TestMain(m *testing.M) {
	simulator = sim.New(sim.Config{Clock: clock.Now, NotifyFactor: 1000, Hang: 10 * time.Second})
	simSrv := httptest.NewServer(simulator)
	simURL = simSrv.URL
	code := dbtest.Main(m, "merchant")
	simulator.Close()
	simSrv.Close()
	os.Exit(code)
}

// newMerchants is the merchant side over db speaking to the simulator on the test clock, its
// WeChat Pay notifications addressed to baseURL.
func newMerchants(t testing.TB, db *sqlx.DB, baseURL string) *merchant.Service {
	t.Helper()
	m, err := merchant.NewService(merchant.Config{
		DB: db, Wallet: wallet.NewService(db), Secret: testSecret, BaseURL: baseURL,
		WeChat: wechat.Options{APIBase: simURL, BrowserBase: simURL, Timeout: 5 * time.Second},
		Now:    clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() }) //nolint:errcheck // its clients' certificate files
	return m
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

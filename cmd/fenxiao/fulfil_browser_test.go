package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wechat/sim"
)

// consoleMerchant signs a merchant up in the desktop browser and connects its official
// account in the simulator; the H5 stack then sells for it.
func consoleMerchant(t *testing.T, st *h5Stack, ctx context.Context, shop string) *h5Merchant {
	t.Helper()
	email := fmt.Sprintf("ship%d@tea.example.com", time.Now().UnixNano()%1e9)
	do(t, ctx, "sign up", chromedp.Navigate(st.base+"/console/signup"),
		chromedp.SendKeys(chromedp.CSS("#in-shop_name"), shop),
		chromedp.SendKeys(chromedp.CSS("#in-email"), email),
		chromedp.SendKeys(chromedp.CSS("#in-password"), "longjing-2026"),
		chromedp.SendKeys(chromedp.CSS("#in-confirm"), "longjing-2026"),
		chromedp.Click(chromedp.CSS("button[type=submit]")))
	waitFor(t, ctx, "the console", `location.pathname.startsWith('/console') && !location.pathname.includes('signup')`)
	var id int64
	if err := st.srv.DB.Get(&id, `SELECT merchant_id FROM merchant_accounts WHERE email = $1`, email); err != nil {
		t.Fatal(err)
	}
	creds, err := st.sim.AddMerchant(sim.MerchantConfig{Name: shop, CallbackURL: fmt.Sprintf("%s/wechat/oa/%d", st.base, id)})
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	if err := st.srv.Merchants.SetWeChat(bg, id, creds); err != nil {
		t.Fatal(err)
	}
	if _, err := st.srv.Wallet.TopUpAssets(bg, nil, id, decimal.NewFromInt(1000), "ship-test-funds", ""); err != nil {
		t.Fatal(err)
	}
	return &h5Merchant{id: id, creds: creds}
}

// copyToDocs refreshes a README screenshot in docs/ from this test's artifacts, when
// DOCS_SCREENSHOTS=1 (otherwise every run would change the committed pictures).
func copyToDocs(t *testing.T, artifact, doc string) {
	t.Helper()
	if os.Getenv("DOCS_SCREENSHOTS") != "1" {
		return
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "artifacts", t.Name(), artifact+".png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", doc), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Acceptance 1 of issue 16 (快递发货) end to end: the buyer checks out on a phone from WeChat's
// address book; the merchant, on a desktop, finds the order under 待发货 and ships it by
// uploading a CSV; the buyer's order page shows the carrier and the tracking number with a
// copy button, the buyer taps 确认收货 and the order reads 已完成.
func TestBrowserDeliveryShippedByCSV(t *testing.T) {
	st := newH5Stack(t)
	con := desktop(t)
	m := consoleMerchant(t, st, con, "湖畔茶庄")
	c := st.campaign(m, 20, func(s *campaign.Settings) { s.Fulfilment = campaign.Delivery })
	a := phone(t)
	do(t, a, "open the buy page", chromedp.Navigate(fmt.Sprintf("%s/c/%d/buy", st.base, c.ID)))
	authorizeNew(t, a, newUser{nickname: "杜甫", subscribed: true})
	waitFor(t, a, "the address book button", `!document.getElementById('wx-address').hidden`)
	tap(t, a, "use WeChat's address", "#wx-address")
	const frame = `document.querySelector('iframe[title="选择收货地址"]')`
	const entry = frame + `.contentDocument.querySelector('button[data-name="杜甫"]')`
	waitFor(t, a, "the address sheet", frame+` && `+frame+`.contentDocument && `+entry)
	eval[bool](t, a, entry+`.click() || true`)
	waitFor(t, a, "the filled checkout", `document.querySelector('#checkout input[name="name"]').value === '杜甫'`)
	payInCashier(t, a, "")
	waitFor(t, a, "the paid order page", `document.getElementById('fulfil-state') && document.getElementById('fulfil-state').textContent === '待发货'`)
	orderURL := eval[string](t, a, `location.href`)

	var no string
	if err := st.srv.DB.Get(&no, `SELECT out_trade_no FROM orders WHERE campaign_id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	do(t, con, "open the campaign's 待发货", chromedp.Navigate(fmt.Sprintf("%s/console/orders?campaign=%d&fulfil=to_ship", st.base, c.ID)))
	waitFor(t, con, "the bulk shipping form", `document.getElementById('shipments-form')`)
	if got := eval[string](t, con, `document.getElementById('orders-table').innerText`); !strings.Contains(got, no) || !strings.Contains(got, "待发货") {
		t.Fatalf("the 待发货 list lacks the order %s:\n%s", no, got)
	}
	shot(t, con, "ship-01-to-ship")
	file := filepath.Join(t.TempDir(), "发货.csv")
	if err := os.WriteFile(file, []byte("\uFEFF订单号,快递公司,快递单号\r\n"+no+",顺丰速运,SF1357924680\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The picker speaks Chinese (not the browser's own "Choose File"), and uploading nothing
	// says so in words rather than a browser bubble.
	if got := eval[string](t, con, `document.querySelector('#shipments-form .file-pick').innerText`); !strings.Contains(got, "选择 CSV 文件") || !strings.Contains(got, "未选择文件") {
		t.Fatalf("the file picker reads %q", got)
	}
	tap(t, con, "upload without a file", "#shipments-submit")
	waitFor(t, con, "the refusal", `(document.querySelector('.toast-error') || {}).textContent === '请选择要上传的 CSV 文件'`)
	do(t, con, "choose the file", chromedp.SetUploadFiles(chromedp.CSS(`#shipments-form input[type=file]`), []string{file}))
	waitFor(t, con, "the chosen file's name", `document.querySelector('#shipments-form .file-name').textContent === '发货.csv'`)
	tap(t, con, "upload", "#shipments-submit")
	waitFor(t, con, "the report", `document.getElementById('shipments-table') && document.querySelector('tr[data-line="2"]')`)
	if got := eval[string](t, con, `document.querySelector('tr[data-line="2"]').dataset.outcome`); got != "applied" {
		t.Fatalf("the row was %s: %s", got, eval[string](t, con, `document.body.innerText`))
	}
	shot(t, con, "ship-02-report")
	do(t, con, "open the campaign's 已发货", chromedp.Navigate(fmt.Sprintf("%s/console/orders?campaign=%d&fulfil=shipped", st.base, c.ID)))
	waitFor(t, con, "the shipped order", `document.getElementById('orders-table').innerText.includes('`+no+`')`)
	shot(t, con, "ship-03-shipped")

	do(t, a, "reload the order page", chromedp.Navigate(orderURL))
	waitFor(t, a, "the tracking number", `document.getElementById('tracking-no') && document.getElementById('tracking-no').textContent === 'SF1357924680'`)
	if got := eval[string](t, a, `document.getElementById('fulfil').innerText`); !strings.Contains(got, "顺丰速运") || !strings.Contains(got, "已发货") {
		t.Fatalf("the order page: %q", got)
	}
	if got := eval[string](t, a, `(document.querySelector('#fulfil [data-copy]') || {}).dataset.copy || ''`); got != "SF1357924680" {
		t.Fatalf("the copy button copies %q", got)
	}
	shot(t, a, "ship-04-buyer-shipped")
	tap(t, a, "confirm receipt", "#confirm-receipt")
	waitFor(t, a, "the completed order", `document.getElementById('fulfil-state') && document.getElementById('fulfil-state').textContent === '已完成'`)
	shot(t, a, "ship-05-buyer-done")
	copyToDocs(t, "ship-04-buyer-shipped", "h5-order.png")
	copyToDocs(t, "ship-01-to-ship", "console-shipping.png")
}

// 无需配送: the order is 已完成 as soon as it is paid, nothing to ship or verify.
func TestBrowserVirtualDoneAtPayment(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("线上课程")
	c := st.campaign(m, 20, func(s *campaign.Settings) { s.Fulfilment, s.ProductName = campaign.Virtual, "茶艺入门课" })
	a := phone(t)
	do(t, a, "open the buy page", chromedp.Navigate(fmt.Sprintf("%s/c/%d/buy", st.base, c.ID)))
	authorizeNew(t, a, newUser{nickname: "王维", subscribed: true})
	waitFor(t, a, "the checkout", `document.getElementById('pay')`)
	payInCashier(t, a, "")
	waitFor(t, a, "the paid order page", `document.getElementById('fulfil-state') && document.getElementById('fulfil-state').textContent === '已完成'`)
	if eval[bool](t, a, `!!document.getElementById('confirm-receipt') || !!document.getElementById('tracking-no')`) {
		t.Fatal("a virtual order offers 确认收货 or a tracking number")
	}
	shot(t, a, "virtual-01-done")
}

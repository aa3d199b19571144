package main

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"fenxiao/campaign"
)

// Checkout for a delivery on a phone: the buyer types the recipient, picks the province and
// city, types the district and street; a wrong mobile is refused beside its field with what
// was typed kept; corrected, the order is paid in the simulator's cashier and the order page
// shows where it goes.
func TestBrowserDeliveryCheckout(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("茶叶商家")
	c := st.campaign(m, 20, func(s *campaign.Settings) { s.Fulfilment = campaign.Delivery })
	a := phone(t)
	do(t, a, "open the buy page", chromedp.Navigate(fmt.Sprintf("%s/c/%d/buy", st.base, c.ID)))
	authorizeNew(t, a, newUser{nickname: "收件人", subscribed: true})
	waitFor(t, a, "the checkout", `document.getElementById('checkout')`)
	do(t, a, "type the recipient",
		chromedp.SendKeys(`#checkout input[name="name"]`, "王小明"),
		chromedp.SendKeys(`#checkout input[name="mobile"]`, "1380013800"),
		chromedp.SetValue(`#checkout select[name="province"]`, "浙江省"))
	eval[bool](t, a, `document.querySelector('#checkout select[name="province"]').dispatchEvent(new Event('change')) || true`)
	waitFor(t, a, "the cities of 浙江省", `Array.from(document.querySelectorAll('#checkout select[name="city"] option')).some(o => o.value === '杭州市')`)
	do(t, a, "pick the city and type the street",
		chromedp.SetValue(`#checkout select[name="city"]`, "杭州市"),
		chromedp.SendKeys(`#checkout input[name="district"]`, "西湖区"),
		chromedp.SendKeys(`#checkout input[name="detail"]`, "龙井路 1 号"),
		chromedp.SendKeys(`#checkout input[name="remark"]`, "工作日送货"))
	tap(t, a, "press pay with a 10-digit mobile", `#pay`)
	waitFor(t, a, "the mobile's message", `!document.querySelector('.fld-error[data-for="mobile"]').hidden`)
	if got := eval[string](t, a, `document.querySelector('#checkout input[name="name"]').value`); got != "王小明" {
		t.Fatalf("the name field holds %q after the refusal", got)
	}
	viewShot(t, a, "fulfil-01-checkout-error")
	do(t, a, "fix the mobile", chromedp.SendKeys(`#checkout input[name="mobile"]`, "0"))
	payInCashier(t, a, "fulfil-02-cashier")
	waitFor(t, a, "the paid order page", `document.getElementById('fulfil') && document.getElementById('fulfil-state').textContent === '待发货'`)
	if got := eval[string](t, a, `document.getElementById('contact').innerText`); got != "王小明 13800138000\n浙江省杭州市西湖区 龙井路 1 号" {
		t.Fatalf("the order page's address: %q", got)
	}
	shot(t, a, "fulfil-03-paid")
}

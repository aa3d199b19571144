package main

import (
	"fmt"
	"strings"
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

// Inside WeChat the buyer fills the checkout from WeChat's address book in one tap
// (wx.openAddress; the simulator's bridge shows each simulated user's saved address).
func TestBrowserCheckoutFromAddressBook(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("地址簿商家")
	c := st.campaign(m, 20, func(s *campaign.Settings) { s.Fulfilment = campaign.Delivery })
	a := phone(t)
	do(t, a, "open the buy page", chromedp.Navigate(fmt.Sprintf("%s/c/%d/buy", st.base, c.ID)))
	authorizeNew(t, a, newUser{nickname: "李白", subscribed: true})
	waitFor(t, a, "the address book button", `!document.getElementById('wx-address').hidden`)
	saved := st.user(m, "李白").Address
	tap(t, a, "use WeChat's address", "#wx-address")
	const frame = `document.querySelector('iframe[title="选择收货地址"]')`
	const entry = frame + `.contentDocument.querySelector('button[data-name="李白"]')`
	waitFor(t, a, "the address sheet", frame+` && `+frame+`.contentDocument && `+entry)
	viewShot(t, a, "fulfil-04-address-book")
	eval[bool](t, a, entry+`.click() || true`)
	waitFor(t, a, "the filled checkout", `document.querySelector('#checkout input[name="name"]').value === '李白'`)
	got := eval[string](t, a, `['mobile','province','city','district','detail'].map(n => document.querySelector('#checkout [name="'+n+'"]').value).join('|')`)
	if want := strings.Join([]string{saved.TelNumber, saved.ProvinceName, saved.CityName, saved.CountryName, saved.DetailInfo}, "|"); got != want {
		t.Fatalf("checkout from the address book: %q, want %q", got, want)
	}
	viewShot(t, a, "fulfil-05-filled")
	payInCashier(t, a, "fulfil-06-cashier")
	waitFor(t, a, "the paid order page", `document.getElementById('contact') && document.getElementById('contact').innerText.includes('`+saved.DetailInfo+`')`)
}

// The district is typed (the project's region data, ip2region, knows provinces and cities
// only): an address without one is refused beside the region field, saying what to type,
// and everything typed is kept.
func TestBrowserCheckoutWithoutDistrict(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("区县商家")
	c := st.campaign(m, 20, func(s *campaign.Settings) { s.Fulfilment = campaign.Delivery })
	a := phone(t)
	do(t, a, "open the buy page", chromedp.Navigate(fmt.Sprintf("%s/c/%d/buy", st.base, c.ID)))
	authorizeNew(t, a, newUser{nickname: "无区县", subscribed: true})
	waitFor(t, a, "the checkout", `document.getElementById('checkout')`)
	do(t, a, "type everything but the district",
		chromedp.SendKeys(`#checkout input[name="name"]`, "王小明"),
		chromedp.SendKeys(`#checkout input[name="mobile"]`, "13800138000"),
		chromedp.SetValue(`#checkout select[name="province"]`, "浙江省"))
	eval[bool](t, a, `document.querySelector('#checkout select[name="province"]').dispatchEvent(new Event('change')) || true`)
	waitFor(t, a, "the cities of 浙江省", `Array.from(document.querySelectorAll('#checkout select[name="city"] option')).some(o => o.value === '杭州市')`)
	do(t, a, "pick the city and type the street",
		chromedp.SetValue(`#checkout select[name="city"]`, "杭州市"),
		chromedp.SendKeys(`#checkout input[name="detail"]`, "龙井路 1 号"))
	tap(t, a, "press pay without a district", `#pay`)
	waitFor(t, a, "the region's message", `!document.querySelector('.fld-error[data-for="region"]').hidden`)
	if got := eval[string](t, a, `document.querySelector('.fld-error[data-for="region"]').textContent`); got != "请填写区县（如 西湖区）" {
		t.Errorf("the region's message: %q", got)
	}
	got := eval[string](t, a, `['name','mobile','province','city','district','detail'].map(n => document.querySelector('#checkout [name="'+n+'"]').value).join('|')`)
	if got != "王小明|13800138000|浙江省|杭州市||龙井路 1 号" {
		t.Errorf("after the refusal the checkout holds %q", got)
	}
	viewShot(t, a, "fulfil-07-no-district")
}

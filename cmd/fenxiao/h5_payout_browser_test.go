package main

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"fenxiao/wechat/sim"
)

// The claim records on a phone: a packet WeChat refused for the sharer's account reads 失败
// with why and what to do, the money is back in 可提现, and one sent since reads 已发送待领取.
func TestBrowserClaimRecordsReason(t *testing.T) {
	st := newH5Stack(t)
	fx := newPayoutFixture(t, st, "小林")
	if err := st.sim.InjectFault(sim.Fault{Endpoint: "sendredpack", Fault: "NO_AUTH", OpenID: fx.openID}); err != nil {
		t.Fatal(err)
	}
	fx.earnAndClaim(t, "6")
	if _, err := st.srv.Payouts.SendDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx.earnAndClaim(t, "2")
	if _, err := st.srv.Payouts.SendDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := phone(t)
	do(t, a, "open my commissions", chromedp.Navigate(fx.page))
	authorizeAs(t, a, fx.openID)
	waitFor(t, a, "the claim records", `document.querySelectorAll('.packets .line').length === 2`)
	got := eval[string](t, a, `document.querySelector('.packets').innerText`)
	if !containsAll(got, "失败", "实名认证", "金额已退回可提现余额", "已发送待领取") {
		t.Fatalf("the claim records: %q", got)
	}
	if w := eval[float64](t, a, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the page is %v px wide on a 390 px phone", w)
	}
	shot(t, a, "claim-records-reason")
}

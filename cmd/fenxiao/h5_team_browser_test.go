package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The promotion page on a phone: the sharer goes from 我的佣金 to 我的推广, sees her friends
// and, on the second tab, their orders with what each earns her (a pending commission with
// its date, a refunded order's none and why, an unpaid order); never the other sharer's.
func TestBrowserTeamPage(t *testing.T) {
	fx := newTeamFixture(t)
	fx.friend("吴五", fx.aID, 1, false) // ordered, not paid yet
	if _, err := fx.st.srv.Campaign.Refund(context.Background(), fx.m.id, fx.orders["钱二"], "不想要了"); err != nil {
		t.Fatal(err)
	}
	a := phone(t)
	do(t, a, "open my commissions", chromedp.Navigate(fmt.Sprintf("%s/c/%d/commissions", fx.st.base, fx.c.ID)))
	authorizeAs(t, a, fx.aOpenID)
	tap(t, a, "open my promotion page", "#team-link")
	waitFor(t, a, "my friends", `document.querySelectorAll('#friends [data-friend]').length === 4`)
	if got := eval[string](t, a, `document.getElementById('friends').innerText`); !containsAll(got, "吴**", "周**", "钱**", "赵**") || containsAny(got, "孙") {
		t.Fatalf("my friends: %q", got)
	}
	shot(t, a, "team-01-friends")
	tap(t, a, "open the friends' orders", "#tab-orders")
	waitFor(t, a, "the friends' orders", `document.querySelectorAll('#friend-orders [data-order]').length === 3`)
	got := eval[string](t, a, `document.getElementById('friend-orders').innerText`)
	if !containsAll(got, "待支付", "已退款", "订单已退款，佣金取消", "已完成", "10.00", "预计 ") || containsAny(got, "孙") {
		t.Fatalf("the friends' orders: %q", got)
	}
	if w := eval[float64](t, a, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the page is %v px wide on a 390 px phone", w)
	}
	shot(t, a, "team-02-orders")
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func containsAny(s string, parts ...string) bool {
	for _, p := range parts {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

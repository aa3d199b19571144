package campaign_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/migrations/dbtest"
)

// fields returns the field messages of a validation error, failing the test otherwise.
func fields(t *testing.T, err error) map[string]string {
	t.Helper()
	var ve *campaign.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v: want a *campaign.ValidationError", err)
	}
	return ve.Fields
}

func wantField(t *testing.T, err error, field, part string) {
	t.Helper()
	f := fields(t, err)
	if !strings.Contains(f[field], part) {
		t.Fatalf("field %q says %q, want it to mention %q (all: %v)", field, f[field], part, f)
	}
}

var emailSeq int

func newEmail(t *testing.T) string {
	emailSeq++
	return fmt.Sprintf("m%d-%d@example.com", time.Now().UnixNano()%1e9, emailSeq)
}

func TestSignUpRules(t *testing.T) {
	svc := newService(t, dbtest.DB(t))
	ok := campaign.SignUpForm{ShopName: "春茶小铺", Email: newEmail(t), Password: "tea-2026!", Confirm: "tea-2026!"}
	cases := []struct {
		name        string
		edit        func(*campaign.SignUpForm)
		field, want string
	}{
		{"no shop name", func(f *campaign.SignUpForm) { f.ShopName = "  " }, "shop_name", "请填写店铺名称"},
		{"long shop name", func(f *campaign.SignUpForm) { f.ShopName = strings.Repeat("茶", 31) }, "shop_name", "最多 30 个字"},
		{"no email", func(f *campaign.SignUpForm) { f.Email = "" }, "email", "请填写邮箱"},
		{"bad email", func(f *campaign.SignUpForm) { f.Email = "tea@shop" }, "email", "邮箱格式不正确"},
		{"named email", func(f *campaign.SignUpForm) { f.Email = "Tea <tea@shop.cn>" }, "email", "邮箱格式不正确"},
		{"no password", func(f *campaign.SignUpForm) { f.Password, f.Confirm = "", "" }, "password", "请设置密码"},
		{"short password", func(f *campaign.SignUpForm) { f.Password, f.Confirm = "abc123", "abc123" }, "password", "至少 8 位"},
		{"digits only", func(f *campaign.SignUpForm) { f.Password, f.Confirm = "12345678", "12345678" }, "password", "不能全是数字"},
		{"password is the email", func(f *campaign.SignUpForm) {
			f.Email = "abcd@ef.cn"
			f.Password, f.Confirm = "ABCD@ef.cn", "ABCD@ef.cn"
		}, "password", "不能与邮箱相同"},
		{"too long", func(f *campaign.SignUpForm) { f.Password = strings.Repeat("密", 25); f.Confirm = f.Password }, "password", "最多 72 个字节"},
		{"mismatch", func(f *campaign.SignUpForm) { f.Confirm = "something else" }, "confirm", "两次输入的密码不一致"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := ok
			tc.edit(&f)
			_, _, err := svc.SignUp(ctx, f)
			wantField(t, err, tc.field, tc.want)
		})
	}

	acc, token, err := svc.SignUp(ctx, ok)
	if err != nil {
		t.Fatal(err)
	}
	if acc.MerchantID == 0 || acc.MerchantName != "春茶小铺" || token == "" {
		t.Fatalf("account %+v, token %q", acc, token)
	}
	ses, err := svc.ConsoleSession(ctx, token)
	if err != nil || ses.MerchantID != acc.MerchantID || ses.Email != ok.Email {
		t.Fatalf("session of the sign-up: %+v, %v", ses, err)
	}
	again := ok
	again.Email = strings.ToUpper(ok.Email)
	_, _, err = svc.SignUp(ctx, again)
	wantField(t, err, "email", "该邮箱已注册")
}

func TestLogInRotatesTheSessionAndThrottles(t *testing.T) {
	svc := newService(t, dbtest.DB(t))
	email := newEmail(t)
	_, first, err := svc.SignUp(ctx, campaign.SignUpForm{ShopName: "店", Email: email, Password: "right-horse", Confirm: "right-horse"})
	if err != nil {
		t.Fatal(err)
	}
	acc, second, err := svc.LogIn(ctx, campaign.LogInForm{Email: " " + strings.ToUpper(email), Password: "right-horse", IP: "1.2.3.4"}, first)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || acc.Email != email {
		t.Fatalf("log-in kept the token or the account is wrong: %+v", acc)
	}
	if _, err := svc.ConsoleSession(ctx, first); !errors.Is(err, campaign.ErrNotFound) {
		t.Fatalf("the session from before the log-in still works: %v", err)
	}
	if _, err := svc.ConsoleSession(ctx, second); err != nil {
		t.Fatal(err)
	}

	_, _, err = svc.LogIn(ctx, campaign.LogInForm{Email: "nobody-" + email, Password: "right-horse", IP: "1.2.3.4"}, "")
	wantField(t, err, "password", "邮箱或密码不正确")
	for i := range 5 {
		_, _, err = svc.LogIn(ctx, campaign.LogInForm{Email: email, Password: fmt.Sprintf("wrong-%d", i), IP: "5.6.7.8"}, "")
		wantField(t, err, "password", "邮箱或密码不正确")
	}
	_, _, err = svc.LogIn(ctx, campaign.LogInForm{Email: email, Password: "right-horse", IP: "5.6.7.8"}, "")
	wantField(t, err, "email", "登录失败次数过多")
	if !errors.Is(err, campaign.ErrTooManyTries) {
		t.Errorf("throttled log-in: %v, want ErrTooManyTries", err)
	}
	clock.Advance(16 * time.Minute)
	if _, _, err := svc.LogIn(ctx, campaign.LogInForm{Email: email, Password: "right-horse", IP: "5.6.7.8"}, ""); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestChangePasswordSignsOutOtherSessions(t *testing.T) {
	svc := newService(t, dbtest.DB(t))
	email := newEmail(t)
	acc, mine, err := svc.SignUp(ctx, campaign.SignUpForm{ShopName: "店", Email: email, Password: "first-pass", Confirm: "first-pass"})
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := svc.LogIn(ctx, campaign.LogInForm{Email: email, Password: "first-pass", IP: "9.9.9.9"}, "")
	if err != nil {
		t.Fatal(err)
	}
	err = svc.ChangePassword(ctx, acc.ID, campaign.PasswordForm{Current: "nope", New: "second-pass", Confirm: "second-pass"}, mine)
	wantField(t, err, "current", "当前密码不正确")
	err = svc.ChangePassword(ctx, acc.ID, campaign.PasswordForm{Current: "first-pass", New: "first-pass", Confirm: "first-pass"}, mine)
	wantField(t, err, "new", "不能与当前密码相同")
	err = svc.ChangePassword(ctx, acc.ID, campaign.PasswordForm{Current: "first-pass", New: "second-pass", Confirm: "second-pas"}, mine)
	wantField(t, err, "confirm", "不一致")
	if err := svc.ChangePassword(ctx, acc.ID, campaign.PasswordForm{Current: "first-pass", New: "second-pass", Confirm: "second-pass"}, mine); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConsoleSession(ctx, mine); err != nil {
		t.Fatalf("the session that changed the password was signed out: %v", err)
	}
	if _, err := svc.ConsoleSession(ctx, other); !errors.Is(err, campaign.ErrNotFound) {
		t.Fatalf("another session survived the password change: %v", err)
	}
	if _, _, err := svc.LogIn(ctx, campaign.LogInForm{Email: email, Password: "second-pass", IP: "9.9.9.9"}, ""); err != nil {
		t.Fatal(err)
	}
	if err := svc.EndConsoleSession(ctx, mine); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConsoleSession(ctx, mine); !errors.Is(err, campaign.ErrNotFound) {
		t.Fatalf("logged-out session still works: %v", err)
	}
}

func TestSessionsExpire(t *testing.T) {
	svc := newService(t, dbtest.DB(t))
	_, token, err := svc.SignUp(ctx, campaign.SignUpForm{ShopName: "店", Email: newEmail(t), Password: "expiry-pass", Confirm: "expiry-pass"})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(11 * time.Hour)
	if _, err := svc.ConsoleSession(ctx, token); err != nil {
		t.Fatalf("active within the idle timeout: %v", err)
	}
	clock.Advance(11 * time.Hour) // 11 h since the last request
	if _, err := svc.ConsoleSession(ctx, token); err != nil {
		t.Fatalf("the request extended the idle timeout: %v", err)
	}
	clock.Advance(13 * time.Hour)
	if _, err := svc.ConsoleSession(ctx, token); !errors.Is(err, campaign.ErrNotFound) {
		t.Fatalf("idle for 13 h and still signed in: %v", err)
	}
}

func TestPurgeConsole(t *testing.T) {
	svc := newService(t, dbtest.DB(t))
	_, token, err := svc.SignUp(ctx, campaign.SignUpForm{ShopName: "店", Email: newEmail(t), Password: "purge-pass", Confirm: "purge-pass"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.LogIn(ctx, campaign.LogInForm{Email: "nobody@example.com", Password: "x", IP: "1.1.1.1"}, ""); err == nil {
		t.Fatal("logged in as nobody")
	}
	clock.Advance(8 * 24 * time.Hour)
	n, err := svc.PurgeConsole(ctx)
	if err != nil || n < 2 {
		t.Fatalf("purged %d rows (%v), want the session and the attempt at least", n, err)
	}
	if _, err := svc.ConsoleSession(ctx, token); !errors.Is(err, campaign.ErrNotFound) {
		t.Fatalf("purged session: %v", err)
	}
}

package merchant_test

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fenxiao/campaign/merchant"
	"fenxiao/campaign/merchant/merchanttest"
	"fenxiao/migrations/dbtest"
)

func TestSignUpRules(t *testing.T) {
	svc := newMerchants(t, dbtest.DB(t), "http://127.0.0.1")
	ok := merchant.SignUpForm{ShopName: "春茶小铺", Email: merchanttest.Email(), Password: "tea-2026!", Confirm: "tea-2026!"}
	cases := []struct {
		name        string
		edit        func(*merchant.SignUpForm)
		field, want string
	}{
		{"no shop name", func(f *merchant.SignUpForm) { f.ShopName = "  " }, "shop_name", "请填写店铺名称"},
		{"long shop name", func(f *merchant.SignUpForm) { f.ShopName = strings.Repeat("茶", 31) }, "shop_name", "最多 30 个字"},
		{"no email", func(f *merchant.SignUpForm) { f.Email = "" }, "email", "请填写邮箱"},
		{"bad email", func(f *merchant.SignUpForm) { f.Email = "tea@shop" }, "email", "邮箱格式不正确"},
		{"named email", func(f *merchant.SignUpForm) { f.Email = "Tea <tea@shop.cn>" }, "email", "邮箱格式不正确"},
		{"no password", func(f *merchant.SignUpForm) { f.Password, f.Confirm = "", "" }, "password", "请设置密码"},
		{"short password", func(f *merchant.SignUpForm) { f.Password, f.Confirm = "abc123", "abc123" }, "password", "至少 8 位"},
		{"digits only", func(f *merchant.SignUpForm) { f.Password, f.Confirm = "12345678", "12345678" }, "password", "不能全是数字"},
		{"password is the email", func(f *merchant.SignUpForm) {
			f.Email = "abcd@ef.cn"
			f.Password, f.Confirm = "ABCD@ef.cn", "ABCD@ef.cn"
		}, "password", "不能与邮箱相同"},
		{"too long", func(f *merchant.SignUpForm) { f.Password = strings.Repeat("密", 25); f.Confirm = f.Password }, "password", "最多 72 个字节"},
		{"mismatch", func(f *merchant.SignUpForm) { f.Confirm = "something else" }, "confirm", "两次输入的密码不一致"},
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
	svc := newMerchants(t, dbtest.DB(t), "http://127.0.0.1")
	email := merchanttest.Email()
	_, first, err := svc.SignUp(ctx, merchant.SignUpForm{ShopName: "店", Email: email, Password: "right-horse", Confirm: "right-horse"})
	if err != nil {
		t.Fatal(err)
	}
	acc, second, err := svc.LogIn(ctx, merchant.LogInForm{Email: " " + strings.ToUpper(email), Password: "right-horse", IP: "1.2.3.4"}, first)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || acc.Email != email {
		t.Fatalf("log-in kept the token or the account is wrong: %+v", acc)
	}
	if _, err := svc.ConsoleSession(ctx, first); !errors.Is(err, merchant.ErrNotFound) {
		t.Fatalf("the session from before the log-in still works: %v", err)
	}
	if _, err := svc.ConsoleSession(ctx, second); err != nil {
		t.Fatal(err)
	}

	_, _, err = svc.LogIn(ctx, merchant.LogInForm{Email: "nobody-" + email, Password: "right-horse", IP: "1.2.3.4"}, "")
	wantField(t, err, "password", "邮箱或密码不正确")
	thaw := clock.Freeze(clock.Now())
	defer thaw()
	for i := range 3 {
		_, _, err = svc.LogIn(ctx, merchant.LogInForm{Email: email, Password: fmt.Sprintf("wrong-%d", i), IP: "5.6.7.8"}, "")
		wantField(t, err, "password", "邮箱或密码不正确")
	}
	// The fourth try from there waits, and the right password is not even looked at.
	_, _, err = svc.LogIn(ctx, merchant.LogInForm{Email: email, Password: "right-horse", IP: "5.6.7.8"}, "")
	wantField(t, err, "email", "登录失败次数过多，请 2 秒后再试")
	if !errors.Is(err, merchant.ErrTooManyTries) {
		t.Errorf("throttled log-in: %v, want ErrTooManyTries", err)
	}
	clock.Advance(2 * time.Second)
	if _, _, err := svc.LogIn(ctx, merchant.LogInForm{Email: email, Password: "right-horse", IP: "5.6.7.8"}, ""); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	// A right password starts the count afresh.
	for i := range 3 {
		_, _, err = svc.LogIn(ctx, merchant.LogInForm{Email: email, Password: fmt.Sprintf("wrong-%d", i), IP: "5.6.7.8"}, "")
		wantField(t, err, "password", "邮箱或密码不正确")
	}
}

// Issue 14, point 5: 80 wrong log-ins at once with 80 emails from one address are each
// counted against the address's allowance of 30: exactly 30 are checked, 50 wait. Before, each
// read the same count and all 80 were checked.
func TestLogInCountsParallelAttemptsAtomically(t *testing.T) {
	svc := newMerchants(t, dbtest.DB(t), "http://127.0.0.1")
	thaw := clock.Freeze(clock.Now())
	defer thaw()
	const n = 80
	var wrong, waiting atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := svc.LogIn(ctx, merchant.LogInForm{Email: fmt.Sprintf("spray%d@example.com", i), Password: "guess-123", IP: "203.0.113.9"}, "")
			var ve *merchant.ValidationError
			switch {
			case errors.As(err, &ve) && strings.Contains(ve.Fields["password"], "邮箱或密码不正确"):
				wrong.Add(1)
			case errors.As(err, &ve) && strings.Contains(ve.Fields["email"], "该网络登录失败次数过多"):
				waiting.Add(1)
			default:
				errs <- fmt.Errorf("log-in %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if wrong.Load() != 30 || waiting.Load() != 50 {
		t.Fatalf("%d passwords checked and %d told to wait, want 30 and 50", wrong.Load(), waiting.Load())
	}
	// The honest side: a merchant at another address signs in at once.
	email := merchanttest.Email()
	if _, _, err := svc.SignUp(ctx, merchant.SignUpForm{ShopName: "店", Email: email, Password: "right-horse", Confirm: "right-horse", IP: "198.51.100.1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.LogIn(ctx, merchant.LogInForm{Email: email, Password: "right-horse", IP: "198.51.100.2"}, ""); err != nil {
		t.Fatalf("a merchant at another address: %v", err)
	}
}

// Issue 14, point 5: many wrong passwords from an attacker's address slow the attacker down
// (a doubling wait per (email, address), up to 5 minutes, during which nothing is checked),
// while the owner, elsewhere, waits at most a minute — and not at all at an address they
// signed in from before. Before, five wrong passwords locked the owner out for 15 minutes.
func TestLogInSlowsTheAttackerNotTheOwner(t *testing.T) {
	svc := newMerchants(t, dbtest.DB(t), "http://127.0.0.1")
	email := merchanttest.Email()
	if _, _, err := svc.SignUp(ctx, merchant.SignUpForm{ShopName: "店", Email: email, Password: "right-horse", Confirm: "right-horse", IP: "198.51.100.7"}); err != nil {
		t.Fatal(err)
	}
	thaw := clock.Freeze(clock.Now())
	defer thaw()
	// The owner signs in once from the office.
	if _, _, err := svc.LogIn(ctx, merchant.LogInForm{Email: email, Password: "right-horse", IP: "198.51.100.7"}, ""); err != nil {
		t.Fatal(err)
	}
	attacker := merchant.LogInForm{Email: email, IP: "203.0.113.66"}
	tries, start := 0, clock.Now()
	waitRe := regexp.MustCompile(`请 (\d+) (秒|分钟)后再试`)
	for tries < 25 {
		attacker.Password = fmt.Sprintf("guess-%d", tries)
		_, _, err := svc.LogIn(ctx, attacker, "")
		f := fields(t, err)
		if m := waitRe.FindStringSubmatch(f["email"]); m != nil {
			// Waiting: even the right password is refused unchecked, then the attacker waits
			// exactly as long as told.
			attacker.Password = "right-horse"
			if _, _, err := svc.LogIn(ctx, attacker, ""); !errors.Is(err, merchant.ErrTooManyTries) {
				t.Fatalf("the right password during the wait: %v", err)
			}
			d, _ := strconv.Atoi(m[1])
			unit := time.Second
			if m[2] == "分钟" {
				unit = time.Minute
			}
			if time.Duration(d)*unit > 5*time.Minute {
				t.Fatalf("the attacker waits %s%s, want at most 5 minutes", m[1], m[2])
			}
			clock.Advance(time.Duration(d) * unit)
			continue
		}
		if !strings.Contains(f["password"], "邮箱或密码不正确") {
			t.Fatalf("guess %d: %v", tries, f)
		}
		tries++
	}
	// 25 guesses took the attacker more than an hour: 3 free, then 2 s doubling to 5 minutes.
	if took := clock.Now().Sub(start); took < time.Hour {
		t.Fatalf("25 guesses took %s of waiting, want over an hour", took)
	}
	// The owner on a phone at a new address right after a guess waits at most a minute.
	attacker.Password = "guess-last"
	for {
		_, _, err := svc.LogIn(ctx, attacker, "")
		if !errors.Is(err, merchant.ErrTooManyTries) {
			break
		}
		clock.Advance(5 * time.Minute)
	}
	// The owner at the office (signed in from there before) is not held back at all.
	if _, _, err := svc.LogIn(ctx, merchant.LogInForm{Email: email, Password: "right-horse", IP: "198.51.100.7"}, ""); err != nil {
		t.Fatalf("the owner at a known address: %v", err)
	}
	phone := merchant.LogInForm{Email: email, Password: "right-horse", IP: "192.0.2.44"}
	_, _, err := svc.LogIn(ctx, phone, "")
	wantField(t, err, "email", "登录失败次数过多")
	m := waitRe.FindStringSubmatch(fields(t, err)["email"])
	if m == nil || m[2] != "秒" {
		t.Fatalf("the owner is told %q, want a wait in seconds", fields(t, err)["email"])
	}
	d, _ := strconv.Atoi(m[1])
	if d > 60 {
		t.Fatalf("the owner waits %d s, want at most 60", d)
	}
	clock.Advance(time.Duration(d) * time.Second)
	if _, _, err := svc.LogIn(ctx, phone, ""); err != nil {
		t.Fatalf("the owner after the wait: %v", err)
	}
}

// Issue 14, point 8: five sign-ups an hour per address, counted atomically; another address
// is not held back, and an hour later the first may sign up again.
func TestSignUpThrottledPerAddress(t *testing.T) {
	svc := newMerchants(t, dbtest.DB(t), "http://127.0.0.1")
	thaw := clock.Freeze(clock.Now())
	defer thaw()
	form := func(ip string) merchant.SignUpForm {
		return merchant.SignUpForm{ShopName: "店", Email: merchanttest.Email(), Password: "right-horse", Confirm: "right-horse", IP: ip}
	}
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	forms := make([]merchant.SignUpForm, 12)
	for i := range forms {
		forms[i] = form("203.0.113.5")
	}
	for _, f := range forms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := svc.SignUp(ctx, f)
			var ve *merchant.ValidationError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &ve) && strings.Contains(ve.Fields["email"], "该网络注册的账号过多（每小时最多 5 个），请 60 分钟后再试"):
				refused.Add(1)
			default:
				t.Errorf("sign-up: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 5 || refused.Load() != 7 {
		t.Fatalf("%d sign-ups and %d refused from one address, want 5 and 7", ok.Load(), refused.Load())
	}
	// Another address is not held back, and a sign-up that fails on its own (an email taken)
	// does not use up the allowance.
	taken := form("198.51.100.9")
	if _, _, err := svc.SignUp(ctx, taken); err != nil {
		t.Fatalf("another address: %v", err)
	}
	for range 6 {
		_, _, err := svc.SignUp(ctx, taken)
		wantField(t, err, "email", "该邮箱已注册")
	}
	if _, _, err := svc.SignUp(ctx, form("198.51.100.9")); err != nil {
		t.Fatalf("after six sign-ups with a taken email: %v", err)
	}
	clock.Advance(time.Hour)
	if _, _, err := svc.SignUp(ctx, form("203.0.113.5")); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
}

func TestChangePasswordSignsOutOtherSessions(t *testing.T) {
	svc := newMerchants(t, dbtest.DB(t), "http://127.0.0.1")
	email := merchanttest.Email()
	acc, mine, err := svc.SignUp(ctx, merchant.SignUpForm{ShopName: "店", Email: email, Password: "first-pass", Confirm: "first-pass"})
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := svc.LogIn(ctx, merchant.LogInForm{Email: email, Password: "first-pass", IP: "9.9.9.9"}, "")
	if err != nil {
		t.Fatal(err)
	}
	err = svc.ChangePassword(ctx, acc.ID, merchant.PasswordForm{Current: "nope", New: "second-pass", Confirm: "second-pass"}, mine)
	wantField(t, err, "current", "当前密码不正确")
	err = svc.ChangePassword(ctx, acc.ID, merchant.PasswordForm{Current: "first-pass", New: "first-pass", Confirm: "first-pass"}, mine)
	wantField(t, err, "new", "不能与当前密码相同")
	err = svc.ChangePassword(ctx, acc.ID, merchant.PasswordForm{Current: "first-pass", New: "second-pass", Confirm: "second-pas"}, mine)
	wantField(t, err, "confirm", "不一致")
	if err := svc.ChangePassword(ctx, acc.ID, merchant.PasswordForm{Current: "first-pass", New: "second-pass", Confirm: "second-pass"}, mine); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConsoleSession(ctx, mine); err != nil {
		t.Fatalf("the session that changed the password was signed out: %v", err)
	}
	if _, err := svc.ConsoleSession(ctx, other); !errors.Is(err, merchant.ErrNotFound) {
		t.Fatalf("another session survived the password change: %v", err)
	}
	if _, _, err := svc.LogIn(ctx, merchant.LogInForm{Email: email, Password: "second-pass", IP: "9.9.9.9"}, ""); err != nil {
		t.Fatal(err)
	}
	if err := svc.EndConsoleSession(ctx, mine); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConsoleSession(ctx, mine); !errors.Is(err, merchant.ErrNotFound) {
		t.Fatalf("logged-out session still works: %v", err)
	}
}

func TestSessionsExpire(t *testing.T) {
	svc := newMerchants(t, dbtest.DB(t), "http://127.0.0.1")
	_, token, err := svc.SignUp(ctx, merchant.SignUpForm{ShopName: "店", Email: merchanttest.Email(), Password: "expiry-pass", Confirm: "expiry-pass"})
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
	if _, err := svc.ConsoleSession(ctx, token); !errors.Is(err, merchant.ErrNotFound) {
		t.Fatalf("idle for 13 h and still signed in: %v", err)
	}
}

func TestPurgeConsole(t *testing.T) {
	svc := newMerchants(t, dbtest.DB(t), "http://127.0.0.1")
	_, token, err := svc.SignUp(ctx, merchant.SignUpForm{ShopName: "店", Email: merchanttest.Email(), Password: "purge-pass", Confirm: "purge-pass"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.LogIn(ctx, merchant.LogInForm{Email: "nobody@example.com", Password: "x", IP: "1.1.1.1"}, ""); err == nil {
		t.Fatal("logged in as nobody")
	}
	clock.Advance(8 * 24 * time.Hour)
	n, err := svc.PurgeConsole(ctx)
	if err != nil || n < 2 {
		t.Fatalf("purged %d rows (%v), want the session and the attempt at least", n, err)
	}
	if _, err := svc.ConsoleSession(ctx, token); !errors.Is(err, merchant.ErrNotFound) {
		t.Fatalf("purged session: %v", err)
	}
}

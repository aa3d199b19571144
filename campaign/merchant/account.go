package merchant

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"
)

// Account is a person who signs in to a merchant's console.
type Account struct {
	ID           int64     `db:"id"`
	MerchantID   int64     `db:"merchant_id"`
	Email        string    `db:"email"`
	MerchantName string    `db:"merchant_name"`
	CreatedAt    time.Time `db:"created_at"`
}

// SignUpForm is what a new merchant types to open an account.
type SignUpForm struct {
	ShopName, Email, Password, Confirm string
	IP                                 string // the client's address: sign-ups are throttled per address
}

// LogInForm is a log-in attempt; IP is the client's address, for throttling.
type LogInForm struct {
	Email, Password, IP string
}

// PasswordForm changes the signed-in account's password.
type PasswordForm struct {
	Current, New, Confirm string
}

// bcryptCost is bcrypt's default: about 70 ms a hash on a server core.
const bcryptCost = bcrypt.DefaultCost

// noAccountHash is compared against when the email is unknown, so that a wrong email takes as
// long as a wrong password and the timing does not tell which accounts exist.
const noAccountHash = "$2a$10$Fw6AmzBOKN3S/.HKnHcPTe4RCfZUSpoP1OFu9AFTloAL83R8Uo.mK"

// SignUp creates a merchant, its first account and a signed-in session, in one transaction.
// It returns the session token for the cookie.
func (s *Service) SignUp(ctx context.Context, f SignUpForm) (*Account, string, error) {
	f.ShopName = strings.TrimSpace(f.ShopName)
	f.Email = normalEmail(f.Email)
	fields := map[string]string{}
	switch n := utf8.RuneCountInString(f.ShopName); {
	case n == 0:
		fields["shop_name"] = "请填写店铺名称"
	case n > 30:
		fields["shop_name"] = "店铺名称最多 30 个字"
	}
	if msg := checkEmail(f.Email); msg != "" {
		fields["email"] = msg
	}
	checkNewPassword(fields, "password", f.Password, f.Confirm, f.Email)
	if len(fields) > 0 {
		return nil, "", &ValidationError{Fields: fields}
	}
	// Counted before the account is made, so parallel sign-ups from one address cannot all
	// pass; a sign-up that fails after all (the email exists) gives its count back. Callers
	// that are no HTTP client (tools, tests) pass no address and are not counted; the console
	// always passes one.
	var keys []throttleKey
	if f.IP != "" {
		keys = append(keys, keyOf(ruleSignUp, f.IP))
	}
	th, err := s.takeThrottle(ctx, keys)
	if err != nil {
		return nil, "", fmt.Errorf("campaign: sign up %s: %w", f.Email, err)
	}
	if th.wait > 0 {
		return nil, "", &ValidationError{Fields: map[string]string{
			"email": fmt.Sprintf("该网络注册的账号过多（每小时最多 %d 个），请 %s后再试", ruleSignUp.free, waitWords(th.wait)),
		}, Cause: ErrTooManyTries}
	}
	acc, token, err := s.signUp(ctx, f)
	if err != nil {
		if gerr := s.giveBack(ctx, th, th.keys...); gerr != nil {
			return nil, "", gerr
		}
		return nil, "", err
	}
	return acc, token, nil
}

func (s *Service) signUp(ctx context.Context, f SignUpForm) (*Account, string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(f.Password), bcryptCost)
	if err != nil {
		return nil, "", fmt.Errorf("campaign: hash password: %w", err)
	}
	var acc Account
	var token string
	err = s.transact(ctx, func(tx *sqlx.Tx) error {
		var merchantID int64
		if err := sqlx.GetContext(ctx, tx, &merchantID, `INSERT INTO merchants (name) VALUES ($1) RETURNING id`, f.ShopName); err != nil {
			return err
		}
		err := sqlx.GetContext(ctx, tx, &acc, `
INSERT INTO merchant_accounts (merchant_id, email, password_hash, created_at, password_changed_at) VALUES ($1, $2, $3, $4, $4)
RETURNING id, merchant_id, email, created_at`, merchantID, f.Email, string(hash), s.now())
		if isUnique(err) {
			return &ValidationError{Fields: map[string]string{"email": "该邮箱已注册，请直接登录"}}
		}
		if err != nil {
			return err
		}
		acc.MerchantName = f.ShopName
		token, err = s.newConsoleSession(ctx, tx, &acc, "")
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("campaign: sign up %s: %w", f.Email, err)
	}
	return &acc, token, nil
}

// LogIn checks an email and password and opens a new session, deleting the one of oldToken
// (a session is never carried across a log-in). Attempts are throttled (throttle.go) per
// (email, address), per email and per address, counted in PostgreSQL so every replica sees
// them; while a key waits, the password is not even checked.
func (s *Service) LogIn(ctx context.Context, f LogInForm, oldToken string) (*Account, string, error) {
	email := normalEmail(f.Email)
	if email == "" || f.Password == "" {
		return nil, "", &ValidationError{Fields: map[string]string{"email": "请输入邮箱和密码"}}
	}
	if len(email) > 254 || len(f.Password) > 1024 {
		return nil, "", &ValidationError{Fields: map[string]string{"password": "邮箱或密码不正确"}}
	}
	known := keyOf(throttleRule{kind: "known"}, email, f.IP).key
	var isKnown bool
	if err := s.db.GetContext(ctx, &isKnown, `SELECT EXISTS (SELECT 1 FROM console_throttle WHERE key = $1 AND updated_at > $2)`,
		known, s.now().Add(-knownFor)); err != nil {
		return nil, "", fmt.Errorf("campaign: log in %s: %w", email, err)
	}
	keys := []throttleKey{keyOf(rulePair, email, f.IP), keyOf(ruleIP, f.IP)}
	if !isKnown {
		keys = append(keys, keyOf(ruleEmail, email))
	}
	th, err := s.takeThrottle(ctx, keys)
	if err != nil {
		return nil, "", fmt.Errorf("campaign: log in %s: %w", email, err)
	}
	if th.wait > 0 {
		msg := "登录失败次数过多，请 " + waitWords(th.wait) + "后再试"
		if th.by == ruleIP.kind {
			msg = "该网络登录失败次数过多，请 " + waitWords(th.wait) + "后再试"
		}
		return nil, "", &ValidationError{Fields: map[string]string{"email": msg}, Cause: ErrTooManyTries}
	}
	var row struct {
		Account
		Hash string `db:"password_hash"`
	}
	err = s.db.GetContext(ctx, &row, `
SELECT a.id, a.merchant_id, a.email, a.created_at, a.password_hash, m.name AS merchant_name
FROM merchant_accounts a JOIN merchants m ON m.id = a.merchant_id WHERE a.email = $1`, email)
	if err != nil && !isNoRows(err) {
		return nil, "", fmt.Errorf("campaign: log in %s: %w", email, err)
	}
	hash := row.Hash
	if hash == "" {
		hash = noAccountHash
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(f.Password)) != nil || row.ID == 0 {
		// The attempt stays counted.
		return nil, "", &ValidationError{Fields: map[string]string{"password": "邮箱或密码不正确"}}
	}
	var token string
	acc := row.Account
	err = s.transact(ctx, func(tx *sqlx.Tx) error {
		// The right password: this pair starts afresh, the address gets its try back (an
		// office's owners do not use up its allowance), and the address becomes known, so
		// the email's throttle no longer holds it back. The email's count stays: many
		// addresses guessing are not forgiven because the owner signed in meanwhile.
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_throttle WHERE key = $1`, keyOf(rulePair, email, f.IP).key); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
INSERT INTO console_throttle (key, fails, free_n, base_secs, cap_secs, forget_secs, free_at, prev_free, attempt, updated_at)
VALUES ($1, 0, 0, 0, 0, $3, '-infinity', '-infinity', '', $2)
ON CONFLICT (key) DO UPDATE SET updated_at = EXCLUDED.updated_at`, known, s.now(), int64(knownFor/time.Second)); err != nil {
			return err
		}
		var err error
		token, err = s.newConsoleSession(ctx, tx, &acc, oldToken)
		return err
	})
	if err == nil {
		err = s.giveBack(ctx, th, keyOf(ruleIP, f.IP).key)
	}
	if err != nil {
		return nil, "", fmt.Errorf("campaign: log in %s: %w", email, err)
	}
	return &acc, token, nil
}

// ChangePassword sets a new password after checking the current one, and signs out every
// other session of the account (the one of keepToken stays).
func (s *Service) ChangePassword(ctx context.Context, accountID int64, f PasswordForm, keepToken string) error {
	var row struct {
		Email string `db:"email"`
		Hash  string `db:"password_hash"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT email, password_hash FROM merchant_accounts WHERE id = $1`, accountID)
	if isNoRows(err) {
		return fmt.Errorf("account %d: %w", accountID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("campaign: account %d: %w", accountID, err)
	}
	fields := map[string]string{}
	if bcrypt.CompareHashAndPassword([]byte(row.Hash), []byte(f.Current)) != nil {
		fields["current"] = "当前密码不正确"
	}
	checkNewPassword(fields, "new", f.New, f.Confirm, row.Email)
	if f.New != "" && f.New == f.Current && fields["new"] == "" {
		fields["new"] = "新密码不能与当前密码相同"
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(f.New), bcryptCost)
	if err != nil {
		return fmt.Errorf("campaign: hash password: %w", err)
	}
	return s.transact(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE merchant_accounts SET password_hash = $2, password_changed_at = $3 WHERE id = $1`,
			accountID, string(hash), s.now()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE account_id = $1 AND id <> $2`, accountID, tokenID(keepToken))
		return err
	})
}

// EnsureAccount gives a merchant an account with this email and password unless the email
// exists already (the demo data of make dev).
func (s *Service) EnsureAccount(ctx context.Context, merchantID int64, email, password string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `
INSERT INTO merchant_accounts (merchant_id, email, password_hash) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING`,
		merchantID, normalEmail(email), string(hash))
	if err != nil {
		return fmt.Errorf("campaign: account for merchant %d: %w", merchantID, err)
	}
	return nil
}

func normalEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkEmail(email string) string {
	if email == "" {
		return "请填写邮箱"
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 || !strings.Contains(email[strings.LastIndex(email, "@"):], ".") {
		return "邮箱格式不正确，例如 name@example.com"
	}
	return ""
}

// checkNewPassword applies the password rules. bcrypt reads at most 72 bytes, so longer
// passwords are refused rather than silently cut.
func checkNewPassword(fields map[string]string, field, pw, confirm, email string) {
	switch {
	case pw == "":
		fields[field] = "请设置密码"
	case utf8.RuneCountInString(pw) < 8:
		fields[field] = "密码至少 8 位"
	case len(pw) > 72:
		fields[field] = "密码太长（最多 72 个字节）"
	case strings.EqualFold(pw, email):
		fields[field] = "密码不能与邮箱相同"
	case strings.Trim(pw, "0123456789") == "":
		fields[field] = "密码不能全是数字，请加入字母或符号"
	}
	if fields[field] == "" && confirm != pw {
		fields["confirm"] = "两次输入的密码不一致"
	}
}

package merchant_test

import (
	"net/mail"
	"regexp"
	"testing"
	"unicode/utf8"

	"fenxiao/campaign/merchant"
	"fenxiao/wechat"
)

// FuzzSettingsForms: the WeChat settings form and the sign-up form's email and password, as
// typed. The checks never panic (the certificate goes through the same PKCS#12 decoding as an
// upload); every message is for a field of the form; what passes has the formats WeChat's
// consoles give (so nothing odd reaches WeChat or the sealed blob), an empty secret keeps the
// stored one, an accepted email is a plain address of at most 254 bytes, and an accepted
// password has 8 characters to 72 bytes.
func FuzzSettingsForms(f *testing.F) {
	f.Add("wx0123456789abcdef", "0123456789abcdef0123456789abcdef", "token1", "", "1234567890", "0123456789ABCDEFabcdef0123456789", []byte(nil),
		"shop@example.com", "tea-2026!", "tea-2026!")
	f.Add(" wx0123456789ABCDEF ", "", "", "a", "12ab", "k", []byte("not a p12"), "Tea <tea@shop.cn>", "12345678", "1234567")
	f.Add("wx"+string(rune(0x663e))+"0123456789abcde", "\x00", "有空 格", "x", "", "", []byte{0x30, 0x82, 0xff, 0xff}, "a@b", "密密密密密密密密密密密密密密密密密密密密密密密密密", "")
	fields := map[string]bool{"app_id": true, "app_secret": true, "token": true, "aes_key": true, "mch_id": true, "api_key": true, "cert": true}
	formats := map[string]*regexp.Regexp{
		"app_id": regexp.MustCompile(`^wx[0-9a-f]{16}$`), "app_secret": regexp.MustCompile(`^[0-9a-f]{32}$`),
		"token": regexp.MustCompile(`^[A-Za-z0-9]{3,32}$`), "aes_key": regexp.MustCompile(`^([A-Za-z0-9]{43})?$`),
		"mch_id": regexp.MustCompile(`^[0-9]{8,10}$`), "api_key": regexp.MustCompile(`^[A-Za-z0-9]{32}$`),
	}
	stored := wechat.Credentials{AppSecret: "fedcba9876543210fedcba9876543210", Token: "storedtoken", APIKey: "STOREDKEY0123456789abcdefghijklm"}
	f.Fuzz(func(t *testing.T, appID, secret, token, aes, mch, key string, cert []byte, email, pw, confirm string) {
		form := merchant.WeChatForm{AppID: appID, AppSecret: secret, Token: token, EncodingAESKey: aes, MchID: mch, APIKey: key, CertP12: cert}
		for _, old := range []wechat.Credentials{{}, stored} {
			creds, msgs := merchant.CheckWeChatForm(form, old)
			for k, m := range msgs {
				if !fields[k] || m == "" {
					t.Fatalf("message %q for %q, not a field of the form", m, k)
				}
			}
			if len(msgs) > 0 {
				continue
			}
			for k, v := range map[string]string{"app_id": creds.AppID, "app_secret": creds.AppSecret, "token": creds.Token,
				"aes_key": creds.EncodingAESKey, "mch_id": creds.MchID, "api_key": creds.APIKey} {
				if !formats[k].MatchString(v) {
					t.Fatalf("%s %q accepted", k, v)
				}
			}
			if secret == "" && creds.AppSecret != old.AppSecret || key == "" && creds.APIKey != old.APIKey {
				t.Fatalf("an empty secret field did not keep the stored secret: %+v", creds)
			}
			if len(cert) > 0 {
				if _, err := wechat.CheckCertificate(creds.CertP12, creds.MchID); err != nil {
					t.Fatalf("a certificate that does not decode was accepted: %v", err)
				}
			}
		}

		e := merchant.NormalEmail(email)
		if merchant.CheckEmail(e) == "" {
			a, err := mail.ParseAddress(e)
			if err != nil || a.Address != e || len(e) > 254 {
				t.Fatalf("email %q accepted", e)
			}
		}
		msgs := merchant.CheckNewPassword(pw, confirm, e)
		for k := range msgs {
			if k != "password" && k != "confirm" {
				t.Fatalf("password message for %q", k)
			}
		}
		if len(msgs) == 0 && (utf8.RuneCountInString(pw) < 8 || len(pw) > 72 || pw != confirm) {
			t.Fatalf("password %q (confirm %q) accepted", pw, confirm)
		}
	})
}

package campaign

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
)

// deriveShareKey derives the HMAC-SHA256 key of share tokens (attribution.go) from
// SECRET_KEY, for this one purpose: the merchant side seals WeChat secrets under a key derived
// under another label.
func deriveShareKey(secret []byte) ([]byte, error) {
	if len(secret) < 32 {
		return nil, errors.New("campaign: secret key must be at least 32 bytes")
	}
	return hkdf.Key(sha256.New, secret, nil, "fenxiao share tokens v1", 32)
}

func macOf(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

package campaign

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Keys derived from SECRET_KEY, one per purpose, so a leak of one use teaches nothing about
// another.
type keys struct {
	seal  []byte // AES-256-GCM for WeChat secrets at rest
	share []byte // HMAC-SHA256 for share tokens
}

func deriveKeys(secret []byte) (keys, error) {
	if len(secret) < 32 {
		return keys{}, errors.New("campaign: secret key must be at least 32 bytes")
	}
	seal, err := hkdf.Key(sha256.New, secret, nil, "fenxiao wechat secrets v1", 32)
	if err != nil {
		return keys{}, err
	}
	share, err := hkdf.Key(sha256.New, secret, nil, "fenxiao share tokens v1", 32)
	if err != nil {
		return keys{}, err
	}
	return keys{seal: seal, share: share}, nil
}

// sealBytes encrypts plain with AES-256-GCM; the nonce leads the result. aad binds the blob
// to its row (the merchant), so a blob copied to another merchant does not open.
func sealBytes(key, plain, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, aad), nil
}

func openBytes(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("campaign: sealed secrets too short")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("campaign: WeChat secrets do not open with this SECRET_KEY: %w", err)
	}
	return plain, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func macOf(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

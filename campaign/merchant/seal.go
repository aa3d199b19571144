package merchant

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// deriveSealKey derives the AES-256-GCM key the WeChat secrets are sealed with from
// SECRET_KEY, for this one purpose: the engine derives its share-token key from the same
// secret under another label, so a leak of one teaches nothing about the other.
func deriveSealKey(secret []byte) ([]byte, error) {
	if len(secret) < 32 {
		return nil, errors.New("campaign: secret key must be at least 32 bytes")
	}
	return hkdf.Key(sha256.New, secret, nil, "fenxiao wechat secrets v1", 32)
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

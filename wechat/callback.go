package wechat

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The official account's message callback is verified here rather than by the SDK's server
// (officialaccount/server), which picks safe mode from the caller's encrypt_type, never looks
// at the timestamp and, in plaintext mode, signs nothing of the body. OpenCallback checks:
//
//   - signature = sha1(sort(token, timestamp, nonce)) on every request, in constant time;
//   - the timestamp within CallbackWindow of now, either way;
//   - when the merchant set an EncodingAESKey (its configuration decides, never the
//     caller): encrypt_type=aes, msg_signature = sha1(sort(token, timestamp, nonce,
//     Encrypt)), AES-256-CBC decryption with a strict PKCS#7 check, and the appid at the end
//     of the plaintext equal to this client's. The plaintext copy that compatible mode sends
//     alongside is ignored; only the decrypted message counts.
//
// A replay inside the window passes these checks: the caller records Callback's (Timestamp,
// Nonce, Signature) in shared storage and refuses what it has seen (campaign does, in
// PostgreSQL).

// CallbackWindow is how far a callback's timestamp may be from now.
const CallbackWindow = 5 * time.Minute

// MaxCallbackBody bounds what WeChat pushes (a few hundred bytes in practice); the HTTP
// routes refuse larger bodies before they are read into a parser.
const MaxCallbackBody = 64 << 10

// Callback is a verified official-account push.
type Callback struct {
	Echo      string // set for WeChat's URL check (GET with echostr): answer it as is
	Event     *Event // nil: a message Fenxiao does not handle (acknowledged, dropped)
	Timestamp int64  // Unix seconds, as WeChat sent it
	Nonce     string
	Signature string
	BodySum   [32]byte // SHA-256 of the body, to tell WeChat's own retry from a replay with another body
	Safe      bool     // arrived encrypted; the reply is encrypted too

	account string // our "gh_" id (ToUserName), the reply's sender
}

// callbackMsg is the XML of a push: the message itself, or in safe mode its envelope.
type callbackMsg struct {
	ToUserName   string `xml:"ToUserName"`
	FromUserName string `xml:"FromUserName"`
	MsgType      string `xml:"MsgType"`
	Event        string `xml:"Event"`
	EventKey     string `xml:"EventKey"`
	Encrypt      string `xml:"Encrypt"`
}

// Bounds on what a push may carry: openids are 28 characters, QR scenes at most 64.
const (
	maxOpenID = 64
	maxScene  = 64
	maxNonce  = 64
)

// OpenCallback verifies a push (its URL query and raw body) at now and returns what it says.
// Errors wrap ErrSignature (bad signature or appid), ErrStale, ErrPlaintext (the wrong mode
// for this merchant's configuration) or ErrMalformed.
func (c *Client) OpenCallback(q url.Values, body []byte, now time.Time) (Callback, error) {
	ts, nonce, sig := q.Get("timestamp"), q.Get("nonce"), q.Get("signature")
	if c.creds.Token == "" {
		return Callback{}, fmt.Errorf("%w: no token configured", ErrSignature)
	}
	if !signatureEqual(sig, sha1Sorted(c.creds.Token, ts, nonce)) {
		return Callback{}, fmt.Errorf("%w: signature", ErrSignature)
	}
	at, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || at <= 0 || nonce == "" || len(nonce) > maxNonce {
		return Callback{}, fmt.Errorf("%w: timestamp %q or nonce", ErrMalformed, ts)
	}
	if d := now.Sub(time.Unix(at, 0)); d > CallbackWindow || d < -CallbackWindow {
		return Callback{}, fmt.Errorf("%w: timestamp %d is %s from now", ErrStale, at, d.Round(time.Second))
	}
	cb := Callback{Timestamp: at, Nonce: nonce, Signature: sig, BodySum: sha256.Sum256(body)}
	if echo, ok := q["echostr"]; ok {
		cb.Echo = echo[0]
		return cb, nil
	}
	if len(body) > MaxCallbackBody {
		return Callback{}, fmt.Errorf("%w: body of %d bytes", ErrMalformed, len(body))
	}
	var m callbackMsg
	if err := xml.Unmarshal(body, &m); err != nil {
		return Callback{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if c.creds.EncodingAESKey != "" {
		if q.Get("encrypt_type") != "aes" || m.Encrypt == "" {
			return Callback{}, fmt.Errorf("%w: plaintext message, but an EncodingAESKey is set", ErrPlaintext)
		}
		if !signatureEqual(q.Get("msg_signature"), sha1Sorted(c.creds.Token, ts, nonce, m.Encrypt)) {
			return Callback{}, fmt.Errorf("%w: msg_signature", ErrSignature)
		}
		plain, err := openMessage(c.creds.EncodingAESKey, c.creds.AppID, m.Encrypt)
		if err != nil {
			return Callback{}, err
		}
		m = callbackMsg{}
		if err := xml.Unmarshal(plain, &m); err != nil {
			return Callback{}, fmt.Errorf("%w: decrypted message: %v", ErrMalformed, err)
		}
		cb.Safe = true
	} else if m.MsgType == "" && m.Encrypt != "" {
		return Callback{}, fmt.Errorf("%w: encrypted message, but no EncodingAESKey is set", ErrPlaintext)
	}
	cb.account = m.ToUserName
	if m.MsgType != "event" {
		return cb, nil
	}
	e := Event{Type: m.Event, OpenID: m.FromUserName}
	switch e.Type {
	case EventSubscribe:
		e.Scene = strings.TrimPrefix(m.EventKey, "qrscene_")
	case EventScan:
		e.Scene = m.EventKey
	case EventUnsubscribe:
	default:
		return cb, nil
	}
	if e.OpenID == "" || len(e.OpenID) > maxOpenID || len(e.Scene) > maxScene {
		return Callback{}, fmt.Errorf("%w: openid or scene out of bounds", ErrMalformed)
	}
	cb.Event = &e
	return cb, nil
}

// CallbackReply is the body answering cb: the echostr for the URL check, "success" when there
// is nothing to say, else a passive text reply to the user, encrypted and signed when the
// push was.
func (c *Client) CallbackReply(cb Callback, text string, now time.Time) ([]byte, error) {
	if cb.Echo != "" {
		return []byte(cb.Echo), nil
	}
	if text == "" || cb.Event == nil {
		return []byte("success"), nil
	}
	type textReply struct {
		XMLName      xml.Name `xml:"xml"`
		ToUserName   string   `xml:"ToUserName"`
		FromUserName string   `xml:"FromUserName"`
		CreateTime   int64    `xml:"CreateTime"`
		MsgType      string   `xml:"MsgType"`
		Content      string   `xml:"Content"`
	}
	plain, err := xml.Marshal(textReply{ToUserName: cb.Event.OpenID, FromUserName: cb.account, CreateTime: now.Unix(), MsgType: "text", Content: text})
	if err != nil || !cb.Safe {
		return plain, err
	}
	enc, err := sealMessage(c.creds.EncodingAESKey, c.creds.AppID, plain)
	if err != nil {
		return nil, err
	}
	ts, nonce := strconv.FormatInt(now.Unix(), 10), randomDigits(10)
	type encrypted struct {
		XMLName      xml.Name `xml:"xml"`
		Encrypt      string   `xml:"Encrypt"`
		MsgSignature string   `xml:"MsgSignature"`
		TimeStamp    string   `xml:"TimeStamp"`
		Nonce        string   `xml:"Nonce"`
	}
	return xml.Marshal(encrypted{Encrypt: enc, MsgSignature: sha1Sorted(c.creds.Token, ts, nonce, enc), TimeStamp: ts, Nonce: nonce})
}

// sha1Sorted is the official account's signature: the parts sorted, concatenated, SHA-1, hex.
func sha1Sorted(parts ...string) string {
	parts = append([]string(nil), parts...)
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

func signatureEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) == 1
}

// messageKey decodes an EncodingAESKey: 43 base64 characters, "=" appended, 32 bytes.
func messageKey(encodingAESKey string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, configErr("EncodingAESKey is not 43 base64 characters")
	}
	return key, nil
}

// messageBlock is the PKCS#7 block size WeChat pads to (twice AES's).
const messageBlock = 32

// openMessage decrypts a safe-mode Encrypt field: AES-256-CBC, IV = key[:16], plaintext =
// 16 random bytes, a 4-byte big-endian length, the message, the appid, PKCS#7 to 32 bytes.
func openMessage(encodingAESKey, appID, encrypted string) ([]byte, error) {
	key, err := messageKey(encodingAESKey)
	if err != nil {
		return nil, err
	}
	data, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil || len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: Encrypt is not base64 whole AES blocks", ErrMalformed)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > messageBlock || pad > len(plain) {
		return nil, fmt.Errorf("%w: bad padding", ErrSignature)
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("%w: bad padding", ErrSignature)
		}
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return nil, fmt.Errorf("%w: decrypted message too short", ErrSignature)
	}
	n := binary.BigEndian.Uint32(plain[16:20])
	if uint64(n) > uint64(len(plain)-20) {
		return nil, fmt.Errorf("%w: decrypted length %d out of range", ErrSignature, n)
	}
	msg, id := plain[20:20+n], plain[20+n:]
	if subtle.ConstantTimeCompare(id, []byte(appID)) != 1 {
		return nil, fmt.Errorf("%w: message is for another appid", ErrSignature)
	}
	return msg, nil
}

// sealMessage is openMessage's inverse, for safe-mode replies.
func sealMessage(encodingAESKey, appID string, msg []byte) (string, error) {
	key, err := messageKey(encodingAESKey)
	if err != nil {
		return "", err
	}
	n := 20 + len(msg) + len(appID)
	pad := messageBlock - n%messageBlock
	plain := make([]byte, n+pad)
	if _, err := rand.Read(plain[:16]); err != nil {
		return "", err
	}
	binary.BigEndian.PutUint32(plain[16:20], uint32(len(msg)))
	copy(plain[20:], msg)
	copy(plain[20+len(msg):], appID)
	for i := n; i < len(plain); i++ {
		plain[i] = byte(pad)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(plain, plain)
	return base64.StdEncoding.EncodeToString(plain), nil
}

func randomDigits(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand never fails
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

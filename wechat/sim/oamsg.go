package sim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Push is one callback request as the simulator sent it: what an eavesdropper on the
// merchant's server would capture, and what WeChat sends again, unchanged, when the merchant
// does not answer within 5 seconds.
type Push struct {
	URL  string // with the signed query
	Body string
}

// LastPush returns the latest callback pushed to appID's server.
func (s *Server) LastPush(appID string) (Push, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.merchants[appID]
	if m == nil {
		return Push{}, ErrUnknownMerchant
	}
	if m.lastPush == nil {
		return Push{}, ErrNotFound
	}
	return *m.lastPush, nil
}

// Redeliver sends the latest push again exactly as before (same timestamp, nonce, signatures
// and body), as WeChat retries a callback that timed out, and returns the text replied.
func (s *Server) Redeliver(appID string) (string, error) {
	s.mu.Lock()
	m := s.merchants[appID]
	if m == nil || m.lastPush == nil {
		s.mu.Unlock()
		return "", ErrNotFound
	}
	p, token, key, id := *m.lastPush, m.token, m.aesKey, m.appID
	s.mu.Unlock()
	return s.deliverPush(p, token, key, id)
}

// callbackEvent is one push to send. Its timestamp is the configured clock without Advance's
// offset: WeChat stamps pushes with the wall clock, which the merchant's server shares, while
// Advance stands for time passing in WeChat's own rules (packet refunds, daily limits). A
// push stamped a day ahead would be refused as stale, as it should be.
type callbackEvent struct {
	appID, url, token, aesKey, mode, toUser, openID, event, key string
	at                                                          time.Time
}

// event is a callback of m's official account for openID. The caller holds s.mu.
func (m *merchant) event(openID, event, key string, at time.Time) callbackEvent {
	return callbackEvent{appID: m.appID, url: m.callbackURL, token: m.token, aesKey: m.aesKey, mode: m.mode,
		toUser: originalID(m.appID), openID: openID, event: event, key: key, at: at}
}

// push posts an event to the official account's callback as WeChat does and returns the text
// reply. Plain mode signs only the token, timestamp and nonce (signature); safe mode sends
// <xml><ToUserName/><Encrypt/></xml> with encrypt_type=aes and msg_signature over the
// Encrypt field as well; compat mode sends both copies. Without a callback URL the event goes
// nowhere, like an OA without a server.
func (s *Server) push(ev callbackEvent) (string, error) {
	if ev.url == "" {
		return "", nil
	}
	ts := strconv.FormatInt(ev.at.Unix(), 10)
	nonce := randomDigits(10)
	q := url.Values{"signature": {sha1Sign(ev.token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "openid": {ev.openID}}
	fields := fmt.Sprintf("<ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"+
		"<CreateTime>%s</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[%s]]></Event>"+
		"<EventKey><![CDATA[%s]]></EventKey>", ev.toUser, ev.openID, ts, ev.event, ev.key)
	body := "<xml>" + fields + "</xml>"
	if ev.mode != ModePlain {
		enc, err := encryptMessage(ev.aesKey, ev.appID, []byte(body))
		if err != nil {
			return "", err
		}
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", sha1Sign(ev.token, ts, nonce, enc))
		if ev.mode == ModeCompat {
			body = "<xml>" + fields + "<Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
		} else {
			body = fmt.Sprintf("<xml><ToUserName><![CDATA[%s]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>", ev.toUser, enc)
		}
	}
	sep := "?"
	if strings.Contains(ev.url, "?") {
		sep = "&"
	}
	p := Push{URL: ev.url + sep + q.Encode(), Body: body}
	s.mu.Lock()
	if m := s.merchants[ev.appID]; m != nil {
		m.lastPush = &p
	}
	s.mu.Unlock()
	s.cfg.Log.Info("sim: OA callback", "event", ev.event, "mode", ev.mode)
	return s.deliverPush(p, ev.token, ev.aesKey, ev.appID)
}

// deliverPush posts p and reads the merchant's passive reply: plaintext XML, "success" or empty
// for none, or in safe mode an encrypted reply whose MsgSignature must verify.
func (s *Server) deliverPush(p Push, token, aesKey, appID string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // WeChat waits 5 s
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, strings.NewReader(p.Body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := s.http.Do(req)
	if err != nil {
		s.cfg.Log.Warn("sim: OA callback failed", "url", p.URL, "err", err)
		return "", fmt.Errorf("sim: OA callback: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("sim: OA callback answered HTTP %d", resp.StatusCode)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(reply), []byte("<xml")) {
		return "", nil // "success" or empty: no reply
	}
	m, err := parseXML(reply)
	if err != nil {
		return "", fmt.Errorf("sim: OA callback reply: %w", err)
	}
	if enc, ok := m["Encrypt"]; ok {
		if sha1Sign(token, m["TimeStamp"], m["Nonce"], enc) != m["MsgSignature"] {
			return "", errors.New("sim: OA callback reply: MsgSignature does not verify")
		}
		plain, err := decryptMessage(aesKey, appID, enc)
		if err != nil {
			return "", fmt.Errorf("sim: OA callback reply: %w", err)
		}
		if len(bytes.TrimSpace(plain)) == 0 {
			return "", nil // an encrypted empty reply, as the SDK's server sends for none
		}
		if m, err = parseXML(plain); err != nil {
			return "", fmt.Errorf("sim: OA callback reply: %w", err)
		}
	}
	return m["Content"], nil
}

// encryptMessage is WeChat's message encryption: AES-256-CBC under base64(EncodingAESKey+"="),
// IV its first 16 bytes, over 16 random bytes, the message length (4 bytes, big-endian), the
// message and the appid, PKCS#7-padded to 32 bytes.
func encryptMessage(encodingAESKey, appID string, msg []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return "", fmt.Errorf("sim: EncodingAESKey %q is not 43 base64 characters", encodingAESKey)
	}
	var buf bytes.Buffer
	random := make([]byte, 16)
	rand.Read(random) //nolint:errcheck // crypto/rand never fails
	buf.Write(random)
	binary.Write(&buf, binary.BigEndian, uint32(len(msg))) //nolint:errcheck // a bytes.Buffer
	buf.Write(msg)
	buf.WriteString(appID)
	pad := 32 - buf.Len()%32
	buf.Write(bytes.Repeat([]byte{byte(pad)}, pad))
	block, _ := aes.NewCipher(key)
	out := buf.Bytes()
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, out)
	return base64.StdEncoding.EncodeToString(out), nil
}

// decryptMessage undoes encryptMessage and checks the appid.
func decryptMessage(encodingAESKey, appID, enc string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("bad EncodingAESKey")
	}
	data, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, errors.New("Encrypt is not base64 AES blocks")
	}
	block, _ := aes.NewCipher(key)
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(data, data)
	pad := int(data[len(data)-1])
	if pad < 1 || pad > 32 || pad > len(data)-20 {
		return nil, errors.New("bad padding")
	}
	data = data[:len(data)-pad]
	n := int(binary.BigEndian.Uint32(data[16:20]))
	if n > len(data)-20 {
		return nil, errors.New("bad length")
	}
	if subtle.ConstantTimeCompare(data[20+n:], []byte(appID)) != 1 {
		return nil, errors.New("reply is for another appid")
	}
	return data[20 : 20+n], nil
}

func randomDigits(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand never fails
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

package sim

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"sort"
	"strings"
)

// The simulator signs and parses on its own rather than through the adapter or the SDK, so a
// mistake in either shows up as a disagreement instead of cancelling out.

// parseXML reads a flat WeChat Pay message, whatever its root (<xml>, or <request> as the
// SDK sends red packets), into a map.
func parseXML(body []byte) (map[string]string, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	m := map[string]string{}
	depth := 0
	var key string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				key = t.Name.Local
				text.Reset()
			}
		case xml.CharData:
			if depth == 2 {
				text.Write(t)
			}
		case xml.EndElement:
			if depth == 2 {
				m[key] = text.String()
			}
			depth--
		}
	}
	if len(m) == 0 {
		return nil, errors.New("empty message")
	}
	return m, nil
}

// encodeXML writes a flat message with CDATA values, in key order; nested is raw XML
// appended inside the root (gethbinfo's hblist).
func encodeXML(m map[string]string, nested string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("<xml>")
	for _, k := range keys {
		fmt.Fprintf(&b, "<%s><![CDATA[%s]]></%s>", k, strings.ReplaceAll(m[k], "]]>", "]]]]><![CDATA[>"), k)
	}
	b.WriteString(nested)
	b.WriteString("</xml>")
	return b.Bytes()
}

// paySign is WeChat Pay's v2 signature: the non-empty fields except sign, sorted by name,
// joined as k=v&…&key=KEY, then MD5 (or HMAC-SHA256 keyed by KEY when signType says so),
// upper-case hex.
func paySign(m map[string]string, key, signType string) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if k != "sign" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + m[k] + "&")
	}
	b.WriteString("key=" + key)
	var h hash.Hash
	if signType == "HMAC-SHA256" {
		h = hmac.New(sha256.New, []byte(key))
	} else {
		h = md5.New()
	}
	h.Write([]byte(b.String()))
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// checkSign verifies a request signed with key; sign_type may be absent (MD5).
func checkSign(m map[string]string, key string) bool {
	st := m["sign_type"]
	if st != "" && st != "MD5" && st != "HMAC-SHA256" {
		return false
	}
	return hmac.Equal([]byte(strings.ToUpper(m["sign"])), []byte(paySign(m, key, st)))
}

// sha1Sign is the official account's signature: the values sorted and concatenated, SHA-1.
func sha1Sign(parts ...string) string {
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// randomString returns n characters of [0-9A-Za-z] from crypto/rand.
func randomString(n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand never fails
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b) //nolint:errcheck
	return hex.EncodeToString(b)[:n]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) //nolint:errcheck // the client is gone
}

// oaError answers an official-account call with WeChat's {errcode, errmsg}.
func oaError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, http.StatusOK, map[string]any{"errcode": code, "errmsg": msg})
}

func writeXML(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write(body) //nolint:errcheck
}

// fen formats an amount for the pages: 1234 → "12.34".
func fen(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

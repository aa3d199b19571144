package wechat

import (
	"bytes"
	"crypto/hmac"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/silenceper/wechat/v2/util"
)

// answer is a flat WeChat Pay v2 XML message as a map: the form in which it is signed, so
// that fields this code has never heard of (coupon_id_3, sub_mch_id, …) still count.
type answer map[string]string

// ok reports a business success: both return_code and result_code SUCCESS.
func (a answer) ok() bool { return a["return_code"] == "SUCCESS" && a["result_code"] == "SUCCESS" }

// parseXML reads a flat <xml> (or <request>, red packets use it) element into a map. Nested
// elements (gethbinfo's hblist) are skipped here and read with a struct by their caller.
func parseXML(body []byte) (answer, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	m := answer{}
	depth := 0
	var key string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
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
		return nil, fmt.Errorf("%w: no fields", ErrMalformed)
	}
	return m, nil
}

// encodeXML writes params as <xml> with CDATA values in key order, the shape WeChat uses.
func encodeXML(params map[string]string) []byte {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("<xml>")
	for _, k := range keys {
		b.WriteString("<" + k + "><![CDATA[")
		b.WriteString(strings.ReplaceAll(params[k], "]]>", "]]]]><![CDATA[>"))
		b.WriteString("]]></" + k + ">")
	}
	b.WriteString("</xml>")
	return b.Bytes()
}

// sign signs params (minus sign, minus empty values) with the merchant key, MD5 unless
// params["sign_type"] says HMAC-SHA256: WeChat Pay's v2 algorithm, through the SDK.
func sign(params map[string]string, key string) (string, error) {
	return util.ParamSign(params, key)
}

// verify checks params["sign"] over every other field, in constant time.
func verify(params map[string]string, key string) error {
	got := params["sign"]
	if got == "" {
		return fmt.Errorf("%w: no sign", ErrSignature)
	}
	want, err := sign(params, key)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if !hmac.Equal([]byte(strings.ToUpper(got)), []byte(want)) {
		return ErrSignature
	}
	return nil
}

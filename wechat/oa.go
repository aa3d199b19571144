package wechat

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/basic"
	"github.com/silenceper/wechat/v2/officialaccount/message"
)

// JSConfig is what wx.config needs, with the JSON names the JS-SDK expects (the SDK's own
// struct says app_id and nonce_str).
type JSConfig struct {
	AppID     string `json:"appId"`
	Timestamp int64  `json:"timestamp"`
	NonceStr  string `json:"nonceStr"`
	Signature string `json:"signature"`
}

// JSConfig signs pageURL for the JS-SDK. The #fragment is cut off, as WeChat signs without it.
func (c *Client) JSConfig(ctx context.Context, pageURL string) (JSConfig, error) {
	pageURL, _, _ = strings.Cut(pageURL, "#")
	var cfg JSConfig
	err := c.withToken(ctx, "jsapi ticket", func() error {
		tctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
		js, err := c.oa.GetJs().GetConfigContext(tctx, pageURL)
		if err != nil {
			return err
		}
		cfg = JSConfig{AppID: js.AppID, Timestamp: js.Timestamp, NonceStr: js.NonceStr, Signature: js.Signature}
		return nil
	})
	return cfg, err
}

// QR is a temporary parametric follow QR code.
type QR struct {
	Ticket   string
	URL      string // the QR code's content, to draw it yourself
	ImageURL string // a PNG of it served by WeChat
	ExpireAt time.Time
}

// TempQR creates a temporary QR code (at most 30 days) whose scan follows the official
// account and reports scene in the subscribe/SCAN event. scene is a string: the SDK
// panics on an int64 scene.
func (c *Client) TempQR(ctx context.Context, scene string, ttl time.Duration) (QR, error) {
	var t *basic.Ticket
	err := c.withToken(ctx, "qrcode create", func() error {
		var err error
		t, err = bounded(ctx, c, "qrcode create", func() (*basic.Ticket, error) {
			return c.oa.GetBasic().GetQRTicket(basic.NewTmpQrRequest(ttl, scene))
		})
		return err
	})
	if err != nil {
		return QR{}, err
	}
	return QR{
		Ticket:   t.Ticket,
		URL:      t.URL,
		ImageURL: c.browserURL(realMP, "/cgi-bin/showqrcode?ticket="+url.QueryEscape(t.Ticket)),
		ExpireAt: time.Now().Add(time.Duration(t.ExpireSeconds) * time.Second),
	}, nil
}

// TemplateMessage is a template message to a follower. ClientMsgID makes a resend with the
// same ID a no-op on WeChat's side, so retries cannot notify twice.
type TemplateMessage struct {
	ToUser      string
	TemplateID  string
	URL         string
	Data        map[string]string // keyword → value
	ClientMsgID string
}

// SendTemplate sends a template message and returns WeChat's msgid.
func (c *Client) SendTemplate(ctx context.Context, m TemplateMessage) (int64, error) {
	data := make(map[string]*message.TemplateDataItem, len(m.Data))
	for k, v := range m.Data {
		data[k] = &message.TemplateDataItem{Value: v}
	}
	msg := &message.TemplateMessage{ToUser: m.ToUser, TemplateID: m.TemplateID, URL: m.URL, Data: data, ClientMsgID: m.ClientMsgID}
	var id int64
	err := c.withToken(ctx, "template send", func() error {
		var err error
		id, err = bounded(ctx, c, "template send", func() (int64, error) {
			return c.oa.GetTemplate().Send(msg)
		})
		return err
	})
	return id, err
}

// Event types of the official-account callback that Fenxiao cares about.
const (
	EventSubscribe   = "subscribe"   // a new follower; Scene set when they came through a QR
	EventScan        = "SCAN"        // an existing follower scanned a parametric QR
	EventUnsubscribe = "unsubscribe" // a follower left
)

// Event is one official-account event, in Go terms, from a verified callback (OpenCallback).
type Event struct {
	Type   string
	OpenID string
	Scene  string // the QR scene, without WeChat's "qrscene_" prefix
}

package console

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	qr "github.com/piglig/go-qr"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/wallet"
)

// statementQuery is the statement filter as the page's form has it.
type statementQuery struct {
	Kind       string
	CampaignID int64
	From, To   string // 2006-01-02, in the console's time zone; To is inclusive
	Before     int64
}

// filter turns the form into a wallet filter; unknown kinds and bad dates are ignored (the
// form only offers valid ones).
func (q statementQuery) filter(loc *time.Location) wallet.Filter {
	f := wallet.Filter{CampaignID: q.CampaignID, Before: q.Before, Limit: 30}
	for _, k := range campaign.StatementKinds {
		if string(k) == q.Kind {
			f.Kinds = []wallet.TransferKind{k}
		}
	}
	if t, err := time.ParseInLocation("2006-01-02", q.From, loc); err == nil {
		f.From = t
	}
	if t, err := time.ParseInLocation("2006-01-02", q.To, loc); err == nil {
		f.To = t.AddDate(0, 0, 1)
	}
	return f
}

// values is the query string of the filter without the page cursor (next page, CSV links).
func (q statementQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"kind": q.Kind, "from": q.From, "to": q.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.CampaignID != 0 {
		v.Set("campaign", strconv.FormatInt(q.CampaignID, 10))
	}
	return v
}

func parseStatementQuery(c *fiber.Ctx) statementQuery {
	return statementQuery{Kind: c.Query("kind"), CampaignID: int64(c.QueryInt("campaign")), From: c.Query("from"),
		To: c.Query("to"), Before: int64(c.QueryInt("before"))}
}

// assetsData is the red-packet assets page: balances (in the layout), top-up form, recent
// top-ups and the statement.
type assetsData struct {
	Amount    string // the top-up form's value
	TopUps    []merchant.TopUp
	Statement campaign.StatementPage
	Query     statementQuery
	Campaigns []campaign.Campaign // for the statement filter
	Kinds     []wallet.TransferKind
}

// NextURL is the link to the statement's next page.
func (d assetsData) NextURL() string {
	v := d.Query.values()
	v.Set("before", strconv.FormatInt(d.Statement.Next, 10))
	return "/console/assets?" + v.Encode() + "#statement"
}

// CSVURL exports the statement as filtered.
func (d assetsData) CSVURL() string {
	return "/console/assets/statement.csv?" + d.Query.values().Encode()
}

func (con *Server) loadAssets(c *fiber.Ctx, d *assetsData) error {
	ctx, m := c.UserContext(), merchantOf(c)
	var err error
	if d.Statement, err = con.Campaign.Statement(ctx, m, d.Query.filter(con.Cfg.TimeZone)); err != nil {
		return err
	}
	if d.TopUps, err = con.Merchants.TopUps(ctx, m, 5); err != nil {
		return err
	}
	d.Campaigns, err = con.Campaign.List(ctx, m)
	d.Kinds = campaign.StatementKinds
	return err
}

func (con *Server) assetsPage(c *fiber.Ctx) error {
	d := &assetsData{Query: parseStatementQuery(c), Amount: c.Query("amount")}
	if err := con.loadAssets(c, d); err != nil {
		return err
	}
	return con.render(c, "assets", &consolePage{Title: "红包资产", Nav: "assets", Data: d})
}

func (con *Server) statementCSV(c *fiber.Ctx) error {
	m, f := merchantOf(c), parseStatementQuery(c).filter(con.Cfg.TimeZone)
	return con.streamCSV(c, "statement", func(ctx context.Context) error {
		one := f
		one.Limit = 1
		_, err := con.Campaign.Statement(ctx, m, one)
		return err
	}, func(ctx context.Context, w io.Writer) error {
		return con.Campaign.ExportStatement(ctx, m, f, con.Cfg.TimeZone, w)
	})
}

// startTopUp places the Native order and shows its QR code. For a Native order WeChat wants
// the address of the server calling it as spbill_create_ip, not the merchant's browser's.
func (con *Server) startTopUp(c *fiber.Ctx) error {
	raw := c.FormValue("amount")
	amount, err := wallet.ParseYuan(raw)
	var t *merchant.TopUp
	if err == nil {
		t, err = con.Merchants.StartTopUp(c.UserContext(), merchantOf(c), amount, con.Cfg.PayoutIP)
	} else {
		err = &campaign.ValidationError{Fields: map[string]string{"amount": reasonOf(err)}}
	}
	if err != nil {
		d := &assetsData{Amount: raw}
		if lerr := con.loadAssets(c, d); lerr != nil {
			return lerr
		}
		return con.form(c, "assets", &consolePage{Title: "红包资产", Nav: "assets", Data: d}, err)
	}
	return c.Redirect(fmt.Sprintf("/console/assets/topups/%d", t.ID), fiber.StatusSeeOther)
}

// reasonOf is the merchant-readable part of a wallet amount error ("请输入金额").
func reasonOf(err error) string {
	if _, reason, ok := strings.Cut(err.Error(), wallet.ErrInvalidAmount.Error()+": "); ok {
		return reason
	}
	return "金额格式不正确"
}

// topUpData is the QR page of a top-up.
type topUpData struct {
	TopUp *merchant.TopUp
	// SimPayURL opens the simulator's Native-pay page for this code (dev and tests only).
	SimPayURL string
}

func (con *Server) topUpPage(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	t, err := con.Merchants.TopUp(c.UserContext(), merchantOf(c), int64(id))
	if err != nil {
		return err
	}
	d := topUpData{TopUp: t}
	if con.Cfg.WeChatAPIBase != "" && t.CodeURL != "" {
		d.SimPayURL = con.Cfg.WeChatAPIBase + "/pay/native?code_url=" + url.QueryEscape(t.CodeURL)
	}
	return con.render(c, "topup", &consolePage{Title: "充值", Nav: "assets", Data: d})
}

// topUpStatus is what the QR page polls; it asks WeChat when the notification is late.
func (con *Server) topUpStatus(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	t, err := con.Merchants.TopUpStatus(c.UserContext(), merchantOf(c), int64(id))
	if err != nil {
		return err
	}
	if t.Status == "paid" {
		con.flash(c, "ok", fmt.Sprintf("充值成功：%s 元已到账", wallet.Yuan(t.Amount)))
	}
	return c.JSON(fiber.Map{"status": t.Status})
}

// topUpQR draws the top-up's code_url as a QR code, on this server: the code never leaves it.
func (con *Server) topUpQR(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	t, err := con.Merchants.TopUp(c.UserContext(), merchantOf(c), int64(id))
	if err != nil {
		return err
	}
	if t.CodeURL == "" || t.Status != "pending" {
		return fiber.ErrNotFound
	}
	code, err := qr.EncodeText(t.CodeURL, qr.Medium)
	if err != nil {
		return err
	}
	svg, err := code.ToSVGBytes(qr.NewQrCodeImgConfig(8, 2))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/svg+xml")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(svg)
}

// topUpNotify answers WeChat Pay's notification of a paid top-up: SUCCESS once credited
// (duplicates too), FAIL when it does not verify or the database is down.

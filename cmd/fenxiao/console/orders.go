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
	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// orderQuery is the order filter as the page's form has it.
type orderQuery struct {
	CampaignID    int64
	Status        string
	Fulfil        string // a campaign.FulfilFilter
	From, To      string // 2006-01-02 in the console's time zone; To inclusive
	Buyer, Sharer string
	Before        int64
}

func parseOrderQuery(c *fiber.Ctx) orderQuery {
	return orderQuery{CampaignID: int64(c.QueryInt("campaign")), Status: c.Query("status"), Fulfil: c.Query("fulfil"), From: c.Query("from"), To: c.Query("to"),
		Buyer: c.Query("buyer"), Sharer: c.Query("sharer"), Before: int64(c.QueryInt("before"))}
}

func (q orderQuery) filter(loc *time.Location, limit int) campaign.OrderFilter {
	f := campaign.OrderFilter{CampaignID: q.CampaignID, Buyer: q.Buyer, Sharer: q.Sharer, Before: q.Before, Limit: limit}
	if s := campaign.OrderStatus(q.Status); s.Valid() {
		f.Status = s
	}
	if s := campaign.FulfilFilter(q.Fulfil); s.Valid() {
		f.Fulfil = s
	}
	if t, err := time.ParseInLocation("2006-01-02", q.From, loc); err == nil {
		f.From = t
	}
	if t, err := time.ParseInLocation("2006-01-02", q.To, loc); err == nil {
		f.To = t.AddDate(0, 0, 1)
	}
	return f
}

func (q orderQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"status": q.Status, "fulfil": q.Fulfil, "from": q.From, "to": q.To, "buyer": q.Buyer, "sharer": q.Sharer} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.CampaignID != 0 {
		v.Set("campaign", strconv.FormatInt(q.CampaignID, 10))
	}
	return v
}

// ordersData is the order list page.
type ordersData struct {
	Query     orderQuery
	Page      campaign.OrderPage
	Campaigns []campaign.Campaign
	Statuses  []campaign.OrderStatus
	Fulfils   []campaign.FulfilFilter
	Shipping  *campaign.Campaign // the delivery campaign filtered on: bulk shipping
}

// NextURL is the link to the next page of the same filter.
func (d ordersData) NextURL() string {
	v := d.Query.values()
	v.Set("before", strconv.FormatInt(d.Page.Next, 10))
	return "/console/orders?" + v.Encode()
}

// CSVURL exports every order of the filter.
func (d ordersData) CSVURL() string { return "/console/orders.csv?" + d.Query.values().Encode() }

// Filtered reports whether any filter is set (the empty state says so).
func (d ordersData) Filtered() bool { return len(d.Query.values()) > 0 }

func (con *Server) ordersPage(c *fiber.Ctx) error {
	q := parseOrderQuery(c)
	p, err := con.Campaign.Orders(c.UserContext(), merchantOf(c), q.filter(con.Cfg.TimeZone, 30))
	if err != nil {
		return err
	}
	list, err := con.Campaign.List(c.UserContext(), merchantOf(c))
	if err != nil {
		return err
	}
	d := ordersData{Query: q, Page: p, Campaigns: list, Fulfils: campaign.FulfilFilters,
		Statuses: []campaign.OrderStatus{campaign.Paid, campaign.Pending, campaign.Refunded, campaign.Closed}}
	for i := range list {
		if list[i].ID == q.CampaignID && list[i].Fulfilment == campaign.Delivery {
			d.Shipping = &list[i]
		}
	}
	return con.render(c, "orders", &consolePage{Title: "订单", Nav: "orders", Data: d})
}

func (con *Server) ordersCSV(c *fiber.Ctx) error {
	m, f := merchantOf(c), parseOrderQuery(c).filter(con.Cfg.TimeZone, 0)
	return con.streamCSV(c, "orders", func(ctx context.Context) error {
		one := f
		one.Limit = 1
		_, err := con.Campaign.Orders(ctx, m, one)
		return err
	}, func(ctx context.Context, w io.Writer) error {
		return con.Campaign.ExportOrders(ctx, m, f, con.Cfg.TimeZone, w)
	})
}

func (con *Server) orderPage(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	o, err := con.Campaign.OrderDetail(c.UserContext(), merchantOf(c), int64(id))
	if err != nil {
		return err
	}
	return con.render(c, "order", &consolePage{Title: "订单 " + o.OutTradeNo, Nav: "orders", Data: o})
}

// refundOrder refunds a paid order in full through WeChat Pay, after the page's confirmation.
func (con *Server) refundOrder(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	back := fmt.Sprintf("/console/orders/%d", id)
	if c.FormValue("confirm") != "yes" {
		return con.redirect(c, back, "error", "请勾选确认后再退款")
	}
	// An amount refunds that much; none (or the whole rest) is the full refund.
	amount := decimal.Zero
	if s := strings.TrimSpace(c.FormValue("amount")); s != "" {
		a, err := wallet.ParseAmount(s)
		if err != nil {
			msg := err.Error() // "wallet: invalid amount: 不是有效的金额…": the words after the last colon
			return con.redirect(c, back, "error", "退款金额："+msg[strings.LastIndex(msg, ": ")+2:])
		}
		amount = a
	}
	before, err := con.Campaign.Order(c.UserContext(), merchantOf(c), int64(id))
	if err != nil {
		return err
	}
	o, err := con.Campaign.RefundPart(c.UserContext(), merchantOf(c), int64(id), amount, c.FormValue("reason"))
	if err != nil {
		return con.refuse(c, back, err)
	}
	return con.redirect(c, back, "ok", fmt.Sprintf("已退款 %s 元，款项将原路退回买家微信", wallet.Yuan(o.Refunded.Sub(before.Refunded))))
}

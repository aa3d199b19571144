package campaign

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// The console's CSV exports, written for Excel and WPS: a UTF-8 byte-order mark (without it
// Excel on Windows reads the file as GBK), Chinese headings, times in the console's zone,
// cells typed by other people defused (CSVSafe) and long numbers kept exact (CSVText).

// maxExport bounds a CSV export; a merchant with more narrows the dates.
const maxExport = 100_000

// CSVSafe defuses a cell that Excel or WPS would read as a formula (=, +, -, @, tab, CR):
// nicknames and titles are typed by other people.
func CSVSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// CSVText writes a cell that may be a long number — a WeChat Pay transaction id (28 digits),
// a mobile, an order number — so that a spreadsheet keeps it as the text it is: left alone,
// Excel and WPS read a cell of digits as a number, show 4.2E+27 and keep only 15 significant
// digits (the rest become zeros, for good once the file is saved). A cell of digits gets a
// tab after it, which both Excel and WPS take as "not a number" and keep the digits exact;
// it is what Alipay's statement downloads do. The alternative ="…" is a formula: Excel
// writes it back as bare digits on "save as CSV" (the next open loses them), LibreOffice
// shows it literally unless told to evaluate formulas, and formulas in cells are what
// CSVSafe exists to keep out. Uploads trim the tab (ParseShipments). Anything else is CSVSafe.
func CSVText(s string) string {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		return s + "\t"
	}
	return CSVSafe(s)
}

func csvTime(t *time.Time, loc *time.Location) string {
	if t == nil {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
}

// startCSV writes the byte-order mark and the headings.
func startCSV(w io.Writer, headings ...string) (*csv.Writer, error) {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return nil, err
	}
	cw := csv.NewWriter(w)
	return cw, cw.Write(headings)
}

// ExportOrders writes the orders matching f (all pages, up to 100,000) as CSV, with what each
// buyer gave at checkout and why it was refunded.
func (s *Service) ExportOrders(ctx context.Context, merchantID int64, f OrderFilter, loc *time.Location, w io.Writer) error {
	cw, err := startCSV(w, "订单号", "活动", "商品", "数量", "金额（元）", "状态", "发货状态", "买家", "买家 openid", "分享人",
		"佣金（元）", "佣金", "下单时间", "支付时间", "退款时间", "微信支付单号",
		"联系人", "手机号", "地址", "备注", "快递公司", "快递单号", "退款（元）", "退款原因")
	if err != nil {
		return err
	}
	f.Before = 0
	err = s.eachExported(ctx, merchantID, f, func(o OrderRow, x exportExtra) {
		cw.Write([]string{CSVText(o.OutTradeNo), CSVSafe(o.CampaignTitle), CSVSafe(o.ProductName), fmt.Sprint(o.Qty), //nolint:errcheck
			o.Amount.StringFixed(2), o.Status.Label(), o.FulfilLabel(), CSVSafe(o.Buyer()), o.BuyerOpenID, CSVSafe(o.Sharer()),
			o.Commission.StringFixed(2), o.CommissionLabel(), csvTime(&o.CreatedAt, loc), csvTime(o.PaidAt, loc),
			csvTime(o.RefundedAt, loc), CSVText(deref(o.TransactionID)),
			CSVSafe(x.Name), CSVText(x.Mobile), CSVSafe(x.Contact.Address()), CSVSafe(x.Remark),
			CSVSafe(o.Carrier), CSVText(o.TrackingNo), refundedCell(o), CSVSafe(x.Reasons)})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// eachExported calls row for each order of f (at most maxExport), newest first, a page of
// 1000 at a time with what the export adds to each (contact, refund reasons).
func (s *Service) eachExported(ctx context.Context, merchantID int64, f OrderFilter, row func(OrderRow, exportExtra)) error {
	f.Limit = 1000
	found, err := s.orderSearch(ctx, merchantID, f)
	if err != nil {
		return err
	}
	for n := 0; n < maxExport; {
		p, err := s.ordersPage(ctx, merchantID, f, found)
		if err != nil {
			return err
		}
		extra, err := s.exportExtras(ctx, merchantID, p.Rows)
		if err != nil {
			return err
		}
		for _, o := range p.Rows {
			row(o, extra[o.ID])
		}
		n += len(p.Rows)
		if p.Next == 0 {
			return nil
		}
		f.Before = p.Next
	}
	return nil
}

func refundedCell(o OrderRow) string {
	if !o.Refunded.IsPositive() {
		return ""
	}
	return o.Refunded.StringFixed(2)
}

// exportExtra is what an export row adds to an order: the buyer's contact and the reasons of
// its refunds.
type exportExtra struct {
	Contact
	Reasons string
}

// exportExtras reads the contacts and refund reasons of one page of orders in two statements.
func (s *Service) exportExtras(ctx context.Context, merchantID int64, rows []OrderRow) (map[int64]exportExtra, error) {
	ids := make([]int64, len(rows))
	for i, o := range rows {
		ids[i] = o.ID
	}
	var cs []struct {
		OrderID int64 `db:"order_id"`
		Contact
	}
	if err := sqlx.SelectContext(ctx, s.db, &cs, `SELECT order_id, name, mobile, province, city, district, detail, remark
FROM order_contacts WHERE merchant_id = $1 AND order_id = ANY($2)`, merchantID, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("campaign: contacts of exported orders: %w", err)
	}
	var rs []struct {
		OrderID int64  `db:"order_id"`
		Reasons string `db:"reasons"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &rs, `SELECT order_id, string_agg(reason, '；' ORDER BY at, id) AS reasons
FROM order_refunds WHERE merchant_id = $1 AND order_id = ANY($2) AND reason <> '' GROUP BY order_id`, merchantID, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("campaign: refund reasons of exported orders: %w", err)
	}
	out := make(map[int64]exportExtra, len(cs))
	for _, c := range cs {
		out[c.OrderID] = exportExtra{Contact: c.Contact}
	}
	for _, r := range rs {
		x := out[r.OrderID]
		x.Reasons = r.Reasons
		out[r.OrderID] = x
	}
	return out, nil
}

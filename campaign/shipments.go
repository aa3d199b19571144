package campaign

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Bulk shipping (issue 16): the merchant exports what is 待发货 (ExportShipping), fills in the
// carrier and tracking number in Excel or WPS, and uploads the file back (ParseShipments,
// ShipAll). Each row ships its order in a transaction of its own and gets a line of the
// report: shipped, unchanged, skipped, or refused with the reason.

// Bounds of an uploaded file: a larger one is refused whole, with the reason.
const (
	MaxShipmentBytes = 1 << 20
	MaxShipmentRows  = 2000
)

// ErrShipmentFile refuses an uploaded file as a whole; the text after it says why.
var ErrShipmentFile = errors.New("campaign: shipment file refused")

func fileError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrShipmentFile, fmt.Sprintf(format, args...))
}

// ShipmentRow is one line of an uploaded file (Line counts from 1, the heading included).
type ShipmentRow struct {
	Line                         int
	OrderNo, Carrier, TrackingNo string
}

// ParseShipments reads an uploaded file of (订单号, 快递公司, 快递单号): UTF-8 with or without a
// byte-order mark, or GBK (GB18030), which is what Excel's "CSV (逗号分隔)" writes on Chinese
// Windows. A heading row is optional; with one, the columns are found by name, so the file
// ExportShipping writes comes back as it is. Empty lines are dropped.
func ParseShipments(data []byte) ([]ShipmentRow, error) {
	if len(data) > MaxShipmentBytes {
		return nil, fileError("文件超过 %d KB，请分成几个文件上传", MaxShipmentBytes>>10)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if !utf8.Valid(data) {
		d, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
		if err != nil {
			return nil, fileError("无法识别文件编码，请另存为「CSV UTF-8」后重新上传")
		}
		data = d
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord, r.LazyQuotes = -1, true
	cols := [3]int{0, 1, 2}
	var rows []ShipmentRow
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fileError("第 %d 行不是有效的 CSV：请用 Excel 或 WPS「另存为 CSV」后上传", line)
		}
		for i := range rec {
			rec[i] = cleanCell(rec[i])
		}
		if strings.Join(rec, "") == "" {
			continue
		}
		if len(rows) == 0 && isHeading(rec) {
			if cols, err = headingColumns(rec); err != nil {
				return nil, err
			}
			continue
		}
		if len(rows) == MaxShipmentRows {
			return nil, fileError("一次最多上传 %d 行，请分成几个文件上传", MaxShipmentRows)
		}
		cell := func(i int) string {
			if cols[i] < len(rec) {
				return rec[cols[i]]
			}
			return ""
		}
		rows = append(rows, ShipmentRow{Line: line, OrderNo: cell(0), Carrier: cell(1), TrackingNo: cell(2)})
	}
	if len(rows) == 0 {
		return nil, fileError("文件中没有要发货的行")
	}
	return rows, nil
}

func isHeading(rec []string) bool {
	for _, c := range rec {
		if strings.Contains(c, "订单号") || strings.EqualFold(c, "out_trade_no") {
			return true
		}
	}
	return false
}

var headingNames = [3][]string{{"订单号", "订单编号", "out_trade_no"}, {"快递公司", "物流公司", "carrier"}, {"快递单号", "运单号", "物流单号", "tracking_no"}}

func headingColumns(rec []string) ([3]int, error) {
	var cols [3]int
	for i, names := range headingNames {
		cols[i] = -1
		for j, c := range rec {
			for _, n := range names {
				if strings.EqualFold(c, n) && cols[i] < 0 {
					cols[i] = j
				}
			}
		}
		if cols[i] < 0 {
			return cols, fileError("表头缺少「%s」列", names[0])
		}
	}
	return cols, nil
}

// cleanCell trims what spreadsheets add around a value: spaces and the tab of CSVText, a
// leading apostrophe, a ="…" wrapper.
func cleanCell(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, `="`) && strings.HasSuffix(s, `"`) && len(s) >= 3 {
		s = s[2 : len(s)-1]
	}
	return strings.TrimSpace(strings.TrimPrefix(s, "'"))
}

// Outcomes of a row.
const (
	ShipApplied   = "applied"   // shipped now
	ShipUnchanged = "unchanged" // shipped before with the same carrier and number
	ShipSkipped   = "skipped"   // nothing filled in
	ShipRefused   = "refused"   // not applied; Message says why
)

// ShipmentResult is the report's line for one row.
type ShipmentResult struct {
	ShipmentRow
	Outcome string
	Message string
}

// Applied reports whether the row left its order shipped as the file says.
func (r ShipmentResult) Applied() bool { return r.Outcome == ShipApplied || r.Outcome == ShipUnchanged }

var scientific = regexp.MustCompile(`^[0-9](\.[0-9]+)?[eE]\+?[0-9]+$`)

// notFound is what a row naming an order the merchant has not got says: the same words for
// a mistyped number and for another merchant's order, which must not be told apart.
const notFound = "订单不存在"

// ShipAll ships the rows of an uploaded file for one delivery campaign of the merchant, each
// row in its own transaction (an error on one row does not undo the others). Uploading the
// same file again changes nothing: rows already applied come back unchanged. A row for an
// order shipped with another tracking number is refused, not applied: a file is often an
// old export filled in again, and silently replacing the numbers the buyer was already told
// would be worse than a line asking the merchant to correct that order on its page.
func (s *Service) ShipAll(ctx context.Context, merchantID, campaignID int64, rows []ShipmentRow) ([]ShipmentResult, error) {
	c, err := s.Get(ctx, merchantID, campaignID)
	if err != nil {
		return nil, err
	}
	if c.Fulfilment != Delivery {
		return nil, fileError("该活动的发货方式是%s，不需要填写快递单号", c.Fulfilment.Label())
	}
	nos := make([]string, len(rows))
	for i, r := range rows {
		nos[i] = r.OrderNo
	}
	var found []struct {
		No         string `db:"out_trade_no"`
		ID         int64  `db:"id"`
		CampaignID int64  `db:"campaign_id"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &found, `SELECT out_trade_no, id, campaign_id FROM orders
WHERE merchant_id = $1 AND out_trade_no = ANY($2)`, merchantID, pq.Array(nos)); err != nil {
		return nil, fmt.Errorf("campaign: orders of a shipment file: %w", err)
	}
	ids := map[string]int64{}
	for _, f := range found {
		if f.CampaignID == campaignID {
			ids[f.No] = f.ID
		}
	}
	seen := map[string]int{}
	out := make([]ShipmentResult, len(rows))
	for i, r := range rows {
		out[i] = s.shipRow(ctx, merchantID, r, ids, seen)
	}
	return out, nil
}

func (s *Service) shipRow(ctx context.Context, merchantID int64, r ShipmentRow, ids map[string]int64, seen map[string]int) ShipmentResult {
	res := ShipmentResult{ShipmentRow: r, Outcome: ShipRefused}
	switch {
	case r.Carrier == "" && r.TrackingNo == "":
		res.Outcome, res.Message = ShipSkipped, "未填写快递公司和快递单号，已跳过"
		return res
	case r.OrderNo == "":
		res.Message = "缺少订单号"
		return res
	case seen[r.OrderNo] != 0:
		res.Message = fmt.Sprintf("与第 %d 行是同一订单，本行未处理", seen[r.OrderNo])
		return res
	}
	seen[r.OrderNo] = r.Line
	id, ok := ids[r.OrderNo]
	switch {
	case !ok:
		res.Message = notFound
		return res
	case r.Carrier == "":
		res.Message = "请填写快递公司"
		return res
	case r.TrackingNo == "":
		res.Message = "请填写快递单号"
		return res
	case scientific.MatchString(r.TrackingNo):
		res.Message = "快递单号被表格软件改成了科学计数法（" + r.TrackingNo + "）：请把该列设为「文本」格式后重新填写"
		return res
	}
	_, changed, err := s.ship(ctx, merchantID, id, r.Carrier, r.TrackingNo, false)
	var shipped *ShippedError
	switch {
	case errors.As(err, &shipped):
		res.Message = fmt.Sprintf("订单已发货（%s %s），与本行的单号不同：如需更正，请在订单详情页修改", shipped.Carrier, shipped.TrackingNo)
	case errors.Is(err, ErrNotFound):
		res.Message = notFound
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrConflict):
		res.Message = Explain(err)
	case err != nil:
		s.log.Error("bulk shipping: a row failed", "merchant_id", merchantID, "order_id", id, "err", err)
		res.Message = "系统繁忙，本行未处理：请稍后重新上传（已发货的行不会重复发货）"
	case changed:
		res.Outcome, res.Message = ShipApplied, "已发货"
	default:
		res.Outcome, res.Message = ShipUnchanged, "此前已按相同单号发货，未改动"
	}
	return res
}

// ExportShipping writes the campaign's 待发货 orders as CSV, newest first, with what the
// parcel needs and two empty columns, 快递公司 and 快递单号, to fill in and upload back.
func (s *Service) ExportShipping(ctx context.Context, merchantID, campaignID int64, loc *time.Location, w io.Writer) error {
	cw, err := startCSV(w, "订单号", "商品", "数量", "收货人", "手机号", "收货地址", "备注", "支付时间", "快递公司", "快递单号")
	if err != nil {
		return err
	}
	err = s.eachExported(ctx, merchantID, OrderFilter{CampaignID: campaignID, Fulfil: FilterToShip}, func(o OrderRow, x exportExtra) {
		cw.Write([]string{CSVText(o.OutTradeNo), CSVSafe(o.ProductName), fmt.Sprint(o.Qty), CSVSafe(x.Name), CSVText(x.Mobile), //nolint:errcheck
			CSVSafe(x.Contact.Address()), CSVSafe(x.Remark), csvTime(o.PaidAt, loc), "", ""})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

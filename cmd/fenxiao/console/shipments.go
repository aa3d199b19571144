package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
)

// Bulk shipping on a delivery campaign's orders page (campaign/shipments.go): export what is
// 待发货, fill in carriers and tracking numbers, upload the file back and read the report.

// shipmentsView is the report of one uploaded file.
type shipmentsView struct {
	Campaign                             *campaign.Campaign
	File                                 string
	Rows                                 []campaign.ShipmentResult
	Applied, Unchanged, Refused, Skipped int
}

// shippingCSV exports a delivery campaign's 待发货 orders, to be filled in and uploaded back.
func (con *Server) shippingCSV(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	m := merchantOf(c)
	return con.streamCSV(c, fmt.Sprintf("shipping-%d", id), func(ctx context.Context) error {
		_, err := con.Campaign.Get(ctx, m, int64(id))
		return err
	}, func(ctx context.Context, w io.Writer) error {
		return con.Campaign.ExportShipping(ctx, m, int64(id), con.Cfg.TimeZone, w)
	})
}

// uploadShipments ships the rows of an uploaded CSV, each on its own, and shows what became
// of every row.
func (con *Server) uploadShipments(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	back := fmt.Sprintf("/console/orders?campaign=%d", id)
	camp, err := con.Campaign.Get(c.UserContext(), merchantOf(c), int64(id))
	if err != nil {
		return err
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return con.redirect(c, back, "error", "请选择要上传的 CSV 文件")
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	// One byte past the limit is enough for ParseShipments to refuse the file as too large.
	data, err := io.ReadAll(io.LimitReader(f, campaign.MaxShipmentBytes+1))
	if err != nil {
		return err
	}
	rows, err := campaign.ParseShipments(data)
	var results []campaign.ShipmentResult
	if err == nil {
		results, err = con.Campaign.ShipAll(c.UserContext(), merchantOf(c), camp.ID, rows)
	}
	if errors.Is(err, campaign.ErrShipmentFile) {
		_, why, _ := strings.Cut(err.Error(), campaign.ErrShipmentFile.Error()+": ")
		return con.redirect(c, back, "error", "未处理："+why)
	}
	if err != nil {
		return err
	}
	v := shipmentsView{Campaign: camp, File: fh.Filename, Rows: results}
	for _, r := range results {
		switch r.Outcome {
		case campaign.ShipApplied:
			v.Applied++
		case campaign.ShipUnchanged:
			v.Unchanged++
		case campaign.ShipSkipped:
			v.Skipped++
		default:
			v.Refused++
		}
	}
	return con.render(c, "shipments", &consolePage{Title: "批量发货结果", Nav: "orders", Data: v})
}

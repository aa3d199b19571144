package campaign

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/lib/pq"

	"fenxiao/wallet"
)

// StatementLine is a line of the merchant's balance statement (余额流水) with the words and
// the campaign title the console shows.
type StatementLine struct {
	wallet.Line
	CampaignTitle string
}

// Label names the movement from the merchant's side.
func (l StatementLine) Label() string {
	switch l.Kind {
	case wallet.TopUp:
		return "充值"
	case wallet.Freeze:
		return "冻结到活动"
	case wallet.Release:
		return "活动解冻"
	}
	return string(l.Kind)
}

// StatementPage is one page of the statement; Next is the cursor of the next page.
type StatementPage struct {
	Lines []StatementLine
	Next  int64
}

// StatementKinds are the movements of the available assets, for the console's filter.
var StatementKinds = []wallet.TransferKind{wallet.TopUp, wallet.Freeze, wallet.Release}

// Statement is the merchant's balance statement with campaign titles. A campaign filter
// naming another merchant's campaign is ErrNotFound.
func (s *Service) Statement(ctx context.Context, merchantID int64, f wallet.Filter) (StatementPage, error) {
	if f.CampaignID != 0 {
		if _, err := s.Get(ctx, merchantID, f.CampaignID); err != nil {
			return StatementPage{}, err
		}
	}
	p, err := s.wallet.Statement(ctx, merchantID, f)
	if err != nil {
		return StatementPage{}, err
	}
	var ids []int64
	for _, l := range p.Lines {
		if l.CampaignID != nil {
			ids = append(ids, *l.CampaignID)
		}
	}
	titles := map[int64]string{}
	if len(ids) > 0 {
		var rows []struct {
			ID    int64  `db:"id"`
			Title string `db:"title"`
		}
		if err := s.db.SelectContext(ctx, &rows, `SELECT id, title FROM campaigns WHERE merchant_id = $1 AND id = ANY($2)`,
			merchantID, pq.Array(ids)); err != nil {
			return StatementPage{}, fmt.Errorf("campaign: statement titles: %w", err)
		}
		for _, r := range rows {
			titles[r.ID] = r.Title
		}
	}
	out := StatementPage{Next: p.Next, Lines: make([]StatementLine, len(p.Lines))}
	for i, l := range p.Lines {
		out.Lines[i] = StatementLine{Line: l}
		if l.CampaignID != nil {
			out.Lines[i].CampaignTitle = titles[*l.CampaignID]
		}
	}
	return out, nil
}

// ExportStatement writes the statement lines matching f as CSV for Excel (see ExportOrders).
func (s *Service) ExportStatement(ctx context.Context, merchantID int64, f wallet.Filter, loc *time.Location, w io.Writer) error {
	cw, err := startCSV(w, "时间", "类型", "活动", "金额（元）", "余额（元）", "参考号")
	if err != nil {
		return err
	}
	f.Limit, f.Before = 1000, 0
	for n := 0; n < maxExport; {
		p, err := s.Statement(ctx, merchantID, f)
		if err != nil {
			return err
		}
		for _, l := range p.Lines {
			cw.Write([]string{l.At.In(loc).Format("2006-01-02 15:04:05"), l.Label(), CSVSafe(l.CampaignTitle), //nolint:errcheck
				l.Amount.StringFixed(2), l.BalanceAfter.StringFixed(2), CSVText(l.Ref)})
		}
		n += len(p.Lines)
		if p.Next == 0 {
			break
		}
		f.Before = p.Next
	}
	cw.Flush()
	return cw.Error()
}

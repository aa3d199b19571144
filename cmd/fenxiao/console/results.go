package console

import (
	"fmt"
	"html/template"
	"math"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"

	"fenxiao/campaign"
)

// resultsData is the results page of one campaign.
type resultsData struct {
	Campaign *campaign.Campaign
	R        *campaign.Results
	Funnel   template.HTML
	Sales    template.HTML
	Spread   template.HTML
	TopShare decimal.Decimal // the leader's commission, for the leaderboard's bars
}

// ViralText says in words what the viral coefficient means for this campaign. It reads K as
// the page shows it, to two decimals: only above 1.00 does each generation of buyers bring a
// bigger one (the campaign spreads by itself); at 1.00 it holds steady.
func (d resultsData) ViralText() string {
	k := math.Round(d.R.Viral*100) / 100
	switch {
	case !d.R.HasViral:
		return "还没有买家，暂无法计算。"
	case k > 1:
		return fmt.Sprintf("每一代买家平均带来 %.2f 倍的下一代买家：活动在自行扩散。", k)
	case k == 1:
		return "每一代买家平均带来 1.00 倍的下一代买家：传播在维持，但不会自行扩大。K 大于 1 时每代买家才会越来越多；提高佣金或开启海报分享可以提高它。"
	case k > 0:
		return fmt.Sprintf("每一代买家平均带来 %.2f 倍的下一代买家：传播逐代减弱，新买家主要来自直接访问。提高佣金或开启海报分享可以提高它。", k)
	default:
		return "买家都来自直接访问，还没有通过分享带来的买家。"
	}
}

// resultsFunnel is the funnel of the results page: people at each stage, so each rate is a
// conversion. Page views are not people (one visitor views many times): the page shows them
// beside the funnel, not as its first stage.
func resultsFunnel(r *campaign.Results) []funnelStep {
	return []funnelStep{{"访客", r.Visitors}, {"下单人数", r.OrderedBuyers}, {"支付人数", r.Buyers}}
}

// Bar is a sharer's commission as a share of the leader's, in percent, for CSS bars.
func (d resultsData) Bar(v decimal.Decimal) int {
	if !d.TopShare.IsPositive() {
		return 0
	}
	return int(v.Div(d.TopShare).Mul(decimal.NewFromInt(100)).IntPart())
}

func (con *Server) resultsPage(c *fiber.Ctx) error {
	camp, err := con.campaignOf(c)
	if err != nil {
		return err
	}
	r, err := con.Campaign.Results(c.UserContext(), merchantOf(c), camp.ID, con.Cfg.TimeZone)
	if err != nil {
		return err
	}
	d := resultsData{Campaign: camp, R: r,
		Funnel: funnelChart(resultsFunnel(r)),
		Sales:  salesChart(r.Sales, r.Hourly),
		Spread: spreadChart(r.Generations),
	}
	if len(r.Sharers) > 0 {
		d.TopShare = r.Sharers[0].Commission
	}
	return con.render(c, "results", &consolePage{Title: "数据 · " + camp.Title, Nav: "campaigns", Data: d})
}

package console

import (
	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// homeData is the overview: the steps to a first campaign (funding is the layout's balance,
// consolePage.Funded), and the campaigns running.
type homeData struct {
	WeChat    bool // settings saved
	Campaigns []campaign.Campaign
	Failures  wallet.NoteFailures // notifications given up on
}

// Running are the campaigns a merchant watches now: upcoming and running ones.
func (d homeData) Running() []campaign.Campaign {
	var out []campaign.Campaign
	for _, c := range d.Campaigns {
		if c.Status == campaign.Published && c.ReleasedAt == nil {
			out = append(out, c)
		}
	}
	return out
}

// Published reports whether any campaign left the draft state.
func (d homeData) Published() bool {
	for _, c := range d.Campaigns {
		if c.Status != campaign.Draft {
			return true
		}
	}
	return false
}

func (con *Server) home(c *fiber.Ctx) error {
	ctx, m := c.UserContext(), merchantOf(c)
	info, err := con.Merchants.WeChatInfo(ctx, m)
	if err != nil {
		return err
	}
	list, err := con.Campaign.List(ctx, m)
	if err != nil {
		return err
	}
	failures, err := con.Payouts.FailedNotifications(ctx, m)
	if err != nil {
		return err
	}
	d := homeData{WeChat: info.Configured, Campaigns: list, Failures: failures}
	return con.render(c, "home", &consolePage{Title: "概览", Nav: "home", Data: d})
}

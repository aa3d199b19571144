package h5

import (
	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
)

// My promotion (我的推广): the friends I brought to this campaign and their orders through me,
// with what each earns me. Only ever the signed-in follower's own (campaign.Team scopes every
// query by them); the cursor in the query string only moves through their own lists.
func (s *Server) team(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return signedIn(err)
	}
	q := campaign.TeamQuery{Tab: campaign.TeamTab(c.Query("tab")), After: c.Query("after")}
	t, err := s.Campaign.Team(c.UserContext(), camp, u, q)
	if err != nil {
		return err
	}
	return s.render(c, "team", &pageData{Title: "我的推广", Campaign: camp, User: u, Data: t})
}

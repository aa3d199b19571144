package h5

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
	"fenxiao/campaign/poster"
)

// The pages of sharing: the share page with its poster, the JS-SDK set-up every sharing page
// calls, and the share records.

// shareView is the share page's data.
type shareView struct {
	Link   string
	Earns  campaign.Reason // Open, MustBuyFirst or SnapshotUser
	Poster string          // the poster's URL, empty when the campaign has posters off
	Early  bool            // the campaign has not started: commissions count from its start
}

func (s *Server) share(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return signedIn(err)
	}
	g, err := s.Campaign.ShareGate(c.UserContext(), camp, u, s.gateIP(c, camp, u))
	if err != nil {
		return err
	}
	if g.Reason != campaign.Open { // who may not take part has nothing to share
		return s.gatePage(c, camp, u, g, "")
	}
	if u.Nickname == "" && !u.Snapshot { // the poster shows the sharer's nickname and avatar
		if _, err := s.follower(c, camp, true); err != nil {
			return signedIn(err)
		}
	}
	earns, err := s.Campaign.CanShare(c.UserContext(), camp, u)
	if err != nil {
		return err
	}
	if earns == campaign.HasEnded {
		// Nothing sells any more: no commission to promise, no poster, no link to pass on.
		return s.gatePage(c, camp, u, campaign.Gate{Reason: campaign.HasEnded}, "")
	}
	v := shareView{Link: s.Campaign.ShareURL(camp.ID, u.ID), Earns: earns, Early: camp.Phase(time.Now()) == "upcoming"}
	if earns == campaign.SnapshotUser {
		v.Link = s.Campaign.CampaignURL(camp.ID)
	} else if camp.PosterEnabled {
		v.Poster = posterURL(camp.ID, s.Campaign.PosterFingerprint(camp, u))
	}
	return s.render(c, "share", &pageData{Title: "分享赚佣金", Campaign: camp, User: u, Share: true, Data: v})
}

// posterBusyText and posterRetryAfter (seconds) answer a poster request past the drawing
// slots' wait.
const (
	posterEndedText  = "活动已结束，海报已停用"
	posterBusyText   = "海报生成中，请稍后再试"
	posterRetryAfter = 2
)

// posterURL is the address of one exact poster: its fingerprint changes whenever anything
// drawn on it does, so browsers keep it for good.
func posterURL(campaignID int64, fingerprint string) string {
	return "/c/" + strconv.FormatInt(campaignID, 10) + "/poster/" + fingerprint + ".png"
}

// poster answers the sharer's current poster at the address the share page used before
// fingerprints (saved pages, old links): drawn once per fingerprint, then from the cache;
// the fingerprint is its ETag, so a phone revalidates for free.
func (s *Server) poster(c *fiber.Ctx) error {
	return s.sendPoster(c, "", "private, no-cache")
}

// posterAt answers the poster named by its fingerprint, cached by browsers for a year
// without asking again. A fingerprint that is no longer the sharer's (the campaign or their
// profile changed since the page was loaded) is redirected to the current poster, never
// answered with other bytes than the ones it names.
func (s *Server) posterAt(c *fiber.Ctx) error {
	return s.sendPoster(c, c.Params("fp"), "public, max-age=31536000, immutable")
}

// sendPoster answers the sharer's poster with cacheControl; with want set, only if want is
// its fingerprint.
func (s *Server) sendPoster(c *fiber.Ctx, want, cacheControl string) error {
	camp, u, err := s.visitor(c, true)
	if err != nil {
		return signedIn(err)
	}
	if s.Campaign.HasEndedNow(camp) {
		// A saved or cached address of an ended campaign's poster: no "限时抢购" picture, a
		// clear answer that stays (410), never kept by a browser.
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(fiber.StatusGone).SendString(posterEndedText)
	}
	if !camp.PosterEnabled || u.Snapshot {
		return fiber.NewError(fiber.StatusNotFound, "海报不可用")
	}
	if fp := s.Campaign.PosterFingerprint(camp, u); want != "" && want != fp {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Redirect(posterURL(camp.ID, fp), fiber.StatusFound)
	}
	png, etag, err := s.Campaign.Poster(c.UserContext(), camp, u)
	if errors.Is(err, campaign.ErrPosterBusy) {
		// Every drawing slot is taken: a clear answer now beats a queue that grows. The share
		// page shows this text and asks again after Retry-After.
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(posterRetryAfter))
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Status(fiber.StatusServiceUnavailable).SendString(posterBusyText)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, `"`+etag+`"`)
	c.Set(fiber.HeaderCacheControl, cacheControl)
	if c.Get(fiber.HeaderIfNoneMatch) == `"`+etag+`"` {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, "image/png")
	return c.Send(png)
}

// coverCache keeps the latest generated cover of recently asked campaigns: drawing one takes
// tens of milliseconds and every visitor of a campaign without pictures asks for it. It is
// bounded: past coverCacheMax campaigns it starts again empty (browsers cache covers a day).
type coverCache struct {
	mu sync.Mutex
	by map[int64]coverEntry
}

type coverEntry struct {
	version int
	png     []byte
}

const coverCacheMax = 256

func (cc *coverCache) get(c *campaign.Campaign) ([]byte, error) {
	cc.mu.Lock()
	e, ok := cc.by[c.ID]
	cc.mu.Unlock()
	if ok && e.version == c.Version {
		return e.png, nil
	}
	png, err := poster.Cover(c.ID, c.ProductName)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if cc.by == nil || len(cc.by) >= coverCacheMax {
		cc.by = map[int64]coverEntry{}
	}
	cc.by[c.ID] = coverEntry{version: c.Version, png: png}
	cc.mu.Unlock()
	return png, nil
}

// cover answers the generated product picture of a campaign without images. It is public
// (WeChat fetches it for link previews) and cached by browsers per settings version.
func (s *Server) cover(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	camp, err := s.Campaign.Public(c.UserContext(), int64(id))
	if err != nil {
		return err
	}
	png, err := s.covers.get(camp)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.Send(png)
}

// jsConfig signs wx.config for the page that asks and says what it shares.
func (s *Server) jsConfig(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return err
	}
	var body struct {
		URL string `json:"url"`
	}
	if err := c.BodyParser(&body); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "请求格式错误")
	}
	set, err := s.Campaign.ShareSetup(c.UserContext(), camp, u, body.URL)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{
		"config": set.Config,
		"share":  fiber.Map{"title": set.Title, "desc": set.Desc, "link": set.Link, "imgUrl": set.Image},
		"earns":  set.Earns == campaign.Open,
	})
}

// shareChannels are the ways a page reports a share.
var shareChannels = map[string]bool{"appmessage": true, "timeline": true, "link": true, "poster": true}

// recordShare counts a share the page saw succeed; it answers at once and writes later.
func (s *Server) recordShare(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return err
	}
	var body struct {
		Channel string `json:"channel"`
	}
	if err := c.BodyParser(&body); err != nil || !shareChannels[body.Channel] {
		return fiber.NewError(fiber.StatusBadRequest, "未知的分享方式")
	}
	if !u.Snapshot {
		s.visits.share(camp, u, body.Channel)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

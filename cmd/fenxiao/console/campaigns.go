package console

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	qr "github.com/piglig/go-qr"
	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/campaign/region"
	"fenxiao/wallet"
)

func (con *Server) campaignsPage(c *fiber.Ctx) error {
	list, err := con.Campaign.List(c.UserContext(), merchantOf(c))
	if err != nil {
		return err
	}
	return con.render(c, "campaigns", &consolePage{Title: "活动", Nav: "campaigns", Data: list})
}

// campaignFormData is the create/edit page.
type campaignFormData struct {
	Campaign  *campaign.Campaign // nil: a new campaign
	Form      campaignForm
	Dropped   []campaign.DroppedImage // image addresses of other hosts that 0012 took out
	Provinces []region.Province
	Action    string
	// Risks are settings the merchant has to confirm before they are saved (每卖一件你亏 …);
	// RiskToken names exactly these messages: ticking it and saving again saves them.
	Risks     []string
	RiskToken string
}

// Frozen reports the fields a published (start, commission) or ended (end) campaign keeps.
func (d campaignFormData) Frozen(field string) bool {
	c := d.Campaign
	if c == nil {
		return false
	}
	switch field {
	case "starts_at", "commission":
		return c.Status != campaign.Draft
	case "ends_at":
		return c.Status == campaign.Ended || !time.Now().Before(c.EndsAt)
	case "fulfilment":
		return c.Sold+c.Held > 0 // orders were made for it (the service also refuses with closed ones)
	}
	return false
}

func (con *Server) formPage(c *fiber.Ctx, d campaignFormData, errs map[string]string) error {
	d.Provinces = con.Campaign.Regions().Provinces()
	title, action := "新建活动", "/console/campaigns"
	if d.Campaign != nil {
		title, action = "编辑活动", fmt.Sprintf("/console/campaigns/%d", d.Campaign.ID)
	}
	d.Action = action
	if d.Campaign != nil {
		dropped, err := con.Campaign.DroppedImages(c.UserContext(), merchantOf(c), d.Campaign.ID)
		if err != nil {
			return err
		}
		d.Dropped = dropped
	}
	if len(errs) > 0 {
		c.Status(fiber.StatusUnprocessableEntity)
	}
	return con.render(c, "campaign_form", &consolePage{Title: title, Nav: "campaigns", Data: d, Errors: errs})
}

func (con *Server) newCampaignPage(c *fiber.Ctx) error {
	now := time.Now().In(con.Cfg.TimeZone)
	start := time.Date(now.Year(), now.Month(), now.Day(), now.Hour()+1, 0, 0, 0, con.Cfg.TimeZone)
	draft := &campaign.Campaign{Settings: campaign.Settings{StartsAt: start, EndsAt: start.AddDate(0, 0, 7),
		ShowParticipants: true, OrderTicker: true, PosterEnabled: true, MaxPerOrder: 10,
		Fulfilment: campaign.Virtual, AutoCompleteDays: 7, HoldFrom: campaign.HoldFromPayment}}
	f := formOf(draft, 100, con.Cfg.TimeZone)
	f.V["starts_at_exact"], f.V["ends_at_exact"] = "", ""
	return con.formPage(c, campaignFormData{Form: f}, nil)
}

// mergeErrors shows the values that did not parse together with every other rule's message.
func (con *Server) mergeErrors(c *fiber.Ctx, id int64, set campaign.Settings, stock int, parseErrs map[string]string) (map[string]string, error) {
	err := con.Campaign.CheckSettings(c.UserContext(), merchantOf(c), id, set, stock)
	var ve *campaign.ValidationError
	if err != nil && !errors.As(err, &ve) {
		return nil, err
	}
	errs := map[string]string{}
	if ve != nil {
		for k, v := range ve.Fields {
			errs[k] = v
		}
	}
	for k, v := range parseErrs {
		errs[k] = v
	}
	return errs, nil
}

// confirmRisks answers the form again when the settings are valid but risky and the
// merchant has not confirmed these very risks: first every rule's message, then the risks
// with their consequences and a box to tick. It returns done == false when saving may go on.
func (con *Server) confirmRisks(c *fiber.Ctx, d campaignFormData, id int64, set campaign.Settings, stock int) (done bool, err error) {
	errs, err := con.mergeErrors(c, id, set, stock, nil)
	if err != nil {
		return true, err
	}
	if len(errs) > 0 {
		return true, con.formPage(c, d, errs)
	}
	risks, err := con.Campaign.Risks(c.UserContext(), merchantOf(c), id, set)
	if err != nil || len(risks) == 0 {
		return err != nil, err
	}
	d.Risks, d.RiskToken = riskList(risks)
	if c.FormValue("confirm_risks") == d.RiskToken {
		return false, nil
	}
	c.Status(fiber.StatusUnprocessableEntity) // nothing saved yet
	return true, con.formPage(c, d, nil)
}

// riskList orders the risk messages as the form's fields and names them by a digest.
func riskList(risks map[string]string) ([]string, string) {
	var list []string
	for _, field := range []string{"starts_at", "buyer_limit", "commission", "price"} {
		if msg, ok := risks[field]; ok {
			list = append(list, msg)
			delete(risks, field)
		}
	}
	for _, msg := range risks { // a risk of another field, should one be added
		list = append(list, msg)
	}
	sum := sha256.Sum256([]byte(strings.Join(list, "\n")))
	return list, hex.EncodeToString(sum[:12])
}

func (con *Server) createCampaign(c *fiber.Ctx) error {
	set, stock, f, perrs := parseCampaignForm(c, con.Cfg.TimeZone)
	if len(perrs) > 0 {
		errs, err := con.mergeErrors(c, 0, set, stock, perrs)
		if err != nil {
			return err
		}
		return con.formPage(c, campaignFormData{Form: f}, errs)
	}
	if done, err := con.confirmRisks(c, campaignFormData{Form: f}, 0, set, stock); done || err != nil {
		return err
	}
	camp, err := con.Campaign.Create(c.UserContext(), merchantOf(c), set, stock)
	var ve *campaign.ValidationError
	if errors.As(err, &ve) {
		return con.formPage(c, campaignFormData{Form: f}, ve.Fields)
	}
	if err != nil {
		return err
	}
	return con.redirect(c, fmt.Sprintf("/console/campaigns/%d", camp.ID), "ok", "活动已保存为草稿。检查无误后即可发布。")
}

func (con *Server) editCampaignPage(c *fiber.Ctx) error {
	camp, err := con.campaignOf(c)
	if err != nil {
		return err
	}
	return con.formPage(c, campaignFormData{Campaign: camp, Form: formOf(camp, camp.Stock, con.Cfg.TimeZone)}, nil)
}

func (con *Server) updateCampaign(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	set, _, f, perrs := parseCampaignForm(c, con.Cfg.TimeZone)
	if len(perrs) > 0 {
		camp, err := con.campaignOf(c)
		if err != nil {
			return err
		}
		errs, err := con.mergeErrors(c, int64(id), set, 0, perrs)
		if err != nil {
			return err
		}
		return con.formPage(c, campaignFormData{Campaign: camp, Form: f}, errs)
	}
	old, err := con.campaignOf(c)
	if err != nil {
		return err
	}
	if done, err := con.confirmRisks(c, campaignFormData{Campaign: old, Form: f}, int64(id), set, 0); done || err != nil {
		return err
	}
	camp, err := con.Campaign.Update(c.UserContext(), merchantOf(c), int64(id), set)
	var ve *campaign.ValidationError
	if errors.As(err, &ve) {
		if camp, err = con.campaignOf(c); err != nil {
			return err
		}
		return con.formPage(c, campaignFormData{Campaign: camp, Form: f}, ve.Fields)
	}
	if err != nil {
		return err
	}
	return con.redirect(c, fmt.Sprintf("/console/campaigns/%d", camp.ID), "ok", "活动设置已保存")
}

// campaignOf loads campaign :id of the signed-in merchant (ErrNotFound for anyone else's).
func (con *Server) campaignOf(c *fiber.Ctx) (*campaign.Campaign, error) {
	id, _ := c.ParamsInt("id")
	return con.Campaign.Get(c.UserContext(), merchantOf(c), int64(id))
}

// campaignData is the campaign's page: status, numbers, publish, stock, end, links. What
// publishing lacks is the layout's balance against ToFreeze (consolePage.Shortfall).
type campaignData struct {
	Campaign *campaign.Campaign
	Stats    campaign.Stats
	Phase    string
	ToFreeze decimal.Decimal
	URL      string
	// WeChatReady: the merchant's WeChat settings were verified, so publishing may go ahead.
	WeChatReady bool
	NeedWeChat  string
	MaxStock    int
}

func (con *Server) campaignPage(c *fiber.Ctx) error {
	camp, err := con.campaignOf(c)
	if err != nil {
		return err
	}
	st, err := con.Campaign.Stats(c.UserContext(), camp)
	if err != nil {
		return err
	}
	ready, err := con.Merchants.WeChatVerified(c.UserContext(), merchantOf(c))
	if err != nil {
		return err
	}
	d := campaignData{Campaign: camp, Stats: st, Phase: camp.Phase(time.Now()), ToFreeze: camp.ToFreeze(),
		URL: con.Campaign.CampaignURL(camp.ID), WeChatReady: ready, NeedWeChat: campaign.MsgNeedWeChat, MaxStock: campaign.MaxStock}
	return con.render(c, "campaign", &consolePage{Title: camp.Title, Nav: "campaigns", Data: d})
}

func (con *Server) publishCampaign(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	back := fmt.Sprintf("/console/campaigns/%d", id)
	camp, err := con.Campaign.Publish(c.UserContext(), merchantOf(c), int64(id))
	if err != nil {
		return con.refuse(c, back, err)
	}
	return con.redirect(c, back, "ok", fmt.Sprintf("活动已发布，已冻结 ¥%s 红包资产", wallet.Yuan(camp.ToFreeze())))
}

// adjustStock adds or removes units: direction add/remove and a positive count.
func (con *Server) adjustStock(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	back := fmt.Sprintf("/console/campaigns/%d", id)
	n, msg := parseCount(strings.TrimSpace(c.FormValue("count")))
	if msg != "" || n <= 0 {
		return con.redirect(c, back, "error", "请输入要增加或减少的库存件数（正整数）")
	}
	if c.FormValue("direction") == "remove" {
		n = -n
	}
	if _, err := con.Campaign.AdjustStock(c.UserContext(), merchantOf(c), int64(id), n); err != nil {
		return con.refuse(c, back, err)
	}
	if n > 0 {
		return con.redirect(c, back, "ok", fmt.Sprintf("库存已增加 %d 件", n))
	}
	return con.redirect(c, back, "ok", fmt.Sprintf("库存已减少 %d 件", -n))
}

func (con *Server) endCampaign(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	back := fmt.Sprintf("/console/campaigns/%d", id)
	if _, err := con.Campaign.EndNow(c.UserContext(), merchantOf(c), int64(id)); err != nil {
		return con.refuse(c, back, err)
	}
	return con.redirect(c, back, "ok", "活动已结束。未支付订单关闭后，剩余冻结资产会自动解冻回可用余额。")
}

// copyCampaign makes a new draft with the campaign's settings and opens its form.
func (con *Server) copyCampaign(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	cp, err := con.Campaign.Copy(c.UserContext(), merchantOf(c), int64(id))
	if err != nil {
		return con.refuse(c, fmt.Sprintf("/console/campaigns/%d", id), err)
	}
	return con.redirect(c, fmt.Sprintf("/console/campaigns/%d/edit", cp.ID), "ok",
		"已复制为新草稿「"+cp.Title+"」：图片和设置相同，库存为 0，请检查时间和库存后发布。")
}

// deleteCampaign deletes a draft once the merchant ticked the confirmation.
func (con *Server) deleteCampaign(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	back := fmt.Sprintf("/console/campaigns/%d", id)
	if c.FormValue("confirm") == "" {
		return con.redirect(c, back, "error", "请勾选确认后再删除草稿")
	}
	if err := con.Campaign.Delete(c.UserContext(), merchantOf(c), int64(id)); err != nil {
		return con.refuse(c, back, err)
	}
	return con.redirect(c, "/console/campaigns", "ok", "草稿已删除")
}

// previewData is the preview page: the H5 link, its QR code to scan in WeChat, and a phone
// mock-up of the landing page drawn from the settings (drafts have no live page yet).
type previewData struct {
	Campaign *campaign.Campaign
	URL      string
	QR       template.HTML
}

func (con *Server) previewPage(c *fiber.Ctx) error {
	camp, err := con.campaignOf(c)
	if err != nil {
		return err
	}
	link := con.Campaign.CampaignURL(camp.ID)
	code, err := qr.EncodeText(link, qr.Medium)
	if err != nil {
		return err
	}
	svg, err := code.ToSVGBytes(qr.NewQrCodeImgConfig(6, 2))
	if err != nil {
		return err
	}
	return con.render(c, "preview", &consolePage{Title: "预览 · " + camp.Title, Nav: "campaigns",
		Data: previewData{Campaign: camp, URL: link, QR: template.HTML(svg)}}) //nolint:gosec // our own SVG of our own link
}

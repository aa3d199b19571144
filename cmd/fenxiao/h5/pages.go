package h5

import (
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"strings"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
	"fenxiao/campaign/poster"
	"fenxiao/campaign/region"
	"fenxiao/wechat"
)

// The pages of buying: landing (or the gate that stands in its way), password, buy, the
// payment result and my orders.

// signedIn lets a handler return quietly after visitor redirected to WeChat's sign-in.
func signedIn(err error) error {
	if errors.Is(err, errSignIn) {
		return nil
	}
	return err
}

// gateView is what a gate page shows.
type gateView struct {
	Gate    campaign.Gate
	Error   string       // password: what went wrong with the last try
	QR      template.URL // not a fan: the follow QR code, drawn here as a data: URL
	QRLink  string       // not a fan: the QR code's content (the simulator's follow page in dev)
	Allowed string       // region: where the campaign is open
}

// Where names the region detected for the visitor.
func (v gateView) Where() string {
	r := v.Gate.Region
	where := r.Province
	if where == "" {
		where = r.Country
	}
	if r.City != "" && r.City != r.Province {
		where += " " + r.City
	}
	if where == "" {
		return "未知地区"
	}
	return where
}

// gatePage renders the page of a closed gate: one template per reason, each with the action
// it needs.
func (s *Server) gatePage(c *fiber.Ctx, camp *campaign.Campaign, u *campaign.User, g campaign.Gate, msg string) error {
	v := gateView{Gate: g, Error: msg, Allowed: strings.Join(camp.Regions, "、")}
	titles := map[campaign.Reason]string{
		campaign.NeedPassword: "输入活动密码", campaign.RegionNotAllowed: "不在活动地区", campaign.NotStarted: "活动未开始",
		campaign.HasEnded: "活动已结束", campaign.NotFan: "关注公众号参与", campaign.SoldOut: "已售罄",
		campaign.BuyersFull: "名额已满", campaign.SnapshotUser: "请使用完整服务",
	}
	if g.FollowQR != nil {
		png, err := poster.QRPNG(g.FollowQR.URL, 360)
		if err != nil {
			return err
		}
		v.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
		v.QRLink = g.FollowQR.URL
	}
	// Before the start the countdown page shares like the landing page: the share card carries
	// the visitor's own link.
	share := g.Reason == campaign.NotStarted
	return s.render(c, "gate_"+string(g.Reason), &pageData{Title: titles[g.Reason], Campaign: camp, User: u, Share: share, Data: v})
}

func (s *Server) password(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return signedIn(err)
	}
	msg := ""
	var rl *campaign.RateLimitError
	switch err := s.Campaign.TryPassword(c.UserContext(), camp, u, c.FormValue("password")); {
	case errors.Is(err, campaign.ErrWrongPassword):
		msg = "密码不正确，请重新输入"
	case errors.Is(err, campaign.ErrTooManyTries):
		msg = "尝试次数过多，请 1 分钟后再试"
	case errors.As(err, &rl):
		c.Status(fiber.StatusTooManyRequests)
		msg = fmt.Sprintf("%s太频繁了，请 %d 秒后再试", rl.What, rl.Seconds())
	case err != nil:
		return err
	default:
		return c.Redirect(fmt.Sprintf("/c/%d", camp.ID), fiber.StatusSeeOther)
	}
	return s.gatePage(c, camp, u, campaign.Gate{Reason: campaign.NeedPassword}, msg)
}

// buyView is the buy page's data.
type buyView struct {
	Max       int               // the most one order may take: the per-order limit or the stock left
	Referrer  string            // 本单推荐人: the masked sharer the order will name, "" for none
	Contact   campaign.Contact  // the buyer's details from their last checkout, to start from
	Provinces []region.Province // the address picker's provinces and cities
}

// Cities is a province's cities for the picker, as one attribute.
func (buyView) Cities(p region.Province) string { return strings.Join(p.Cities, "|") }

func (s *Server) buy(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return signedIn(err)
	}
	g, err := s.Campaign.Enter(c.UserContext(), camp, u, s.clientIP(c, u), 0)
	if err != nil {
		return err
	}
	if g.Reason != campaign.Open {
		return c.Redirect(fmt.Sprintf("/c/%d", camp.ID), fiber.StatusSeeOther)
	}
	ref, err := s.Campaign.Referrer(c.UserContext(), camp, u)
	if err != nil {
		return err
	}
	view := buyView{Max: min(camp.MaxPerOrder, camp.Left()), Referrer: ref}
	if camp.Fulfilment == campaign.Delivery || camp.AskContact {
		if view.Contact, err = s.Campaign.LastContact(c.UserContext(), u); err != nil {
			return err
		}
	}
	if camp.Fulfilment == campaign.Delivery {
		view.Provinces = s.Campaign.Regions().Provinces()
	}
	return s.render(c, "buy", &pageData{Title: "确认订单", Campaign: camp, User: u, Data: view})
}

// createOrder places an order and answers the getBrandWCPayRequest parameters the page
// hands to WeixinJSBridge.
func (s *Server) createOrder(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return err
	}
	var form campaign.OrderForm
	if err := c.BodyParser(&form); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "请求格式错误")
	}
	co, err := s.Campaign.BuyWith(c.UserContext(), camp, u, form, s.clientIP(c, u))
	var ve *campaign.ValidationError
	if errors.As(err, &ve) && ve.Fields["qty"] == "" {
		// The checkout's fields, each with its message; the page keeps what was typed.
		return c.Status(fiber.StatusUnprocessableEntity).JSON(fiber.Map{"error": "请检查填写的信息", "fields": ve.Fields})
	}
	if err != nil {
		return orderError(err)
	}
	answer := fiber.Map{
		"order_id": co.Order.ID,
		"pay":      co.Pay,
		"next":     fmt.Sprintf("/c/%d/orders/%d", camp.ID, co.Order.ID),
	}
	if co.Existing { // one live unpaid order per buyer: the page says it pays that one
		answer["notice"] = fmt.Sprintf("你有一笔未支付的订单（%d 件，¥%s），请先完成支付", co.Order.Qty, co.Order.Amount.StringFixed(2))
	}
	return c.JSON(answer)
}

// orderError says in the buyer's words why an order was refused.
// A refused prepay of a new order has closed it (its units are back); one of the buyer's
// unpaid order, asked again, leaves it as it is: the messages claim neither.
func orderError(err error) error {
	var ge *campaign.GateError
	var ve *campaign.ValidationError
	var we *wechat.Error
	switch {
	case errors.As(err, &ge):
		return fiber.NewError(fiber.StatusConflict, "暂时无法购买，请返回活动页查看")
	case errors.As(err, &ve):
		return fiber.NewError(fiber.StatusUnprocessableEntity, ve.Fields["qty"])
	case errors.Is(err, campaign.ErrSoldOut):
		msg := "商品已售罄"
		if _, left, ok := strings.Cut(err.Error(), "仅剩"); ok {
			msg = "库存不足，仅剩" + left
		}
		return fiber.NewError(fiber.StatusConflict, msg)
	case errors.Is(err, campaign.ErrBuyerLimit):
		return fiber.NewError(fiber.StatusConflict, "参与人数已满")
	case errors.Is(err, campaign.ErrNotOpen):
		return fiber.NewError(fiber.StatusConflict, "活动不在进行中")
	case errors.Is(err, campaign.ErrSettingsChanged):
		return fiber.NewError(fiber.StatusConflict, "活动的发货方式刚刚变更，请刷新页面后重新下单")
	case errors.As(err, &we) && we.Code == "ORDERPAID":
		// The buyer's unpaid order, asked again, was paid meanwhile: its notification is on
		// the way (or the query job finds it).
		return fmt.Errorf("%w: %w", fiber.NewError(fiber.StatusConflict, "这笔订单已经支付，请在「我的订单」中查看"), err)
	case errors.As(err, &we) && we.Kind == wechat.KindFailed:
		// WeChat Pay will not take this buyer's payment (their openid is not the official
		// account's, their account is blocked): trying again is the same.
		return fmt.Errorf("%w: %w", fiber.NewError(fiber.StatusConflict, "微信支付未能为你的账号发起支付，请从公众号重新进入活动后再试"), err)
	case errors.As(err, &we):
		return fmt.Errorf("%w: %w", fiber.NewError(fiber.StatusServiceUnavailable, "微信支付暂时不可用，请稍后再试"), err)
	}
	return err
}

// orderView is an order with the words the buyer sees for its state.
type orderView struct {
	*campaign.Order
	Cancelled bool   // the buyer closed WeChat's payment sheet
	Referrer  string // 本单推荐人, masked; "" for none
	Fulfil    fulfilView
	Refunds   []campaign.RefundNote // what was refunded, with the merchant's reasons
}

// StatusText is the order's state in Chinese: where a paid one is on its way, once it is.
func (o orderView) StatusText() string {
	if o.Status == campaign.Paid && o.FulfilState != nil {
		return o.FulfilLabel()
	}
	return map[campaign.OrderStatus]string{
		campaign.Pending: "待支付", campaign.Paid: "已支付", campaign.Closed: "已关闭", campaign.Refunded: "已退款",
	}[o.Status]
}

func (s *Server) orderResult(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return signedIn(err)
	}
	id, _ := c.ParamsInt("order")
	o, err := s.Campaign.BuyerOrder(c.UserContext(), u, int64(id))
	if err != nil {
		return err
	}
	ref, err := s.Campaign.OrderReferrer(c.UserContext(), o)
	if err != nil {
		return err
	}
	fv, err := s.fulfilOf(c, camp, o)
	if err != nil {
		return err
	}
	view := orderView{Order: o, Cancelled: c.Query("r") == "cancel", Referrer: ref, Fulfil: fv}
	if o.Refunded.IsPositive() {
		if view.Refunds, err = s.Campaign.Refunds(c.UserContext(), o); err != nil {
			return err
		}
	}
	return s.render(c, "result", &pageData{Title: "支付结果", Campaign: camp, User: u, Data: view})
}

// orderStatus answers the result page's polling while WeChat's notification is on its way.
func (s *Server) orderStatus(c *fiber.Ctx) error {
	_, u, err := s.visitor(c, false)
	if err != nil {
		return err
	}
	id, _ := c.ParamsInt("order")
	o, err := s.Campaign.BuyerOrder(c.UserContext(), u, int64(id))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": o.Status})
}

func (s *Server) orders(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return signedIn(err)
	}
	os, err := s.Campaign.BuyerOrders(c.UserContext(), camp.ID, u.ID)
	if err != nil {
		return err
	}
	views := make([]orderView, len(os))
	for i := range os {
		views[i] = orderView{Order: &os[i]}
	}
	return s.render(c, "orders", &pageData{Title: "我的订单", Campaign: camp, User: u, Data: views})
}

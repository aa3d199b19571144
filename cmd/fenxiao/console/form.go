package console

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// campaignForm is the campaign form as typed, to show again: text values by field name,
// checkboxes, the chosen regions and images, four button rows.
type campaignForm struct {
	V       map[string]string
	On      map[string]bool
	Regions map[string]bool
	Images  []string
	Details []string // the detail pictures below the description
	Buttons [4]campaign.Button
}

// formFields are the text fields of the campaign form.
var formFields = []string{"title", "starts_at", "starts_at_exact", "ends_at", "ends_at_exact", "buyer_limit", "splash_image",
	"splash_link", "password", "commission", "hold_days", "product_name", "price", "stock", "description", "max_per_order", "logo",
	"fulfilment", "auto_complete_days", "hold_from"}

// formTime is the datetime-local format of the form (seconds appear when the time has them).
const formTime = "2006-01-02T15:04"

func fmtFormTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(loc)
	if t.Second() != 0 {
		return t.Format(formTime + ":05")
	}
	return t.Format(formTime)
}

// formOf fills the form from a campaign. The exact times travel in hidden fields, so an
// unchanged minute-precision time is read back as the exact stored one (the start of a
// published campaign may not change by a single microsecond).
func formOf(c *campaign.Campaign, stock int, loc *time.Location) campaignForm {
	f := campaignForm{V: map[string]string{}, On: map[string]bool{}, Regions: map[string]bool{}}
	for _, k := range formFields {
		f.V[k] = "" // every field present: a template may pass any of them on as a string
	}
	s := c.Settings
	f.V["title"] = s.Title
	f.V["starts_at"], f.V["starts_at_exact"] = fmtFormTime(s.StartsAt, loc), exactTime(s.StartsAt)
	f.V["ends_at"], f.V["ends_at_exact"] = fmtFormTime(s.EndsAt, loc), exactTime(s.EndsAt)
	f.V["buyer_limit"] = strconv.Itoa(s.BuyerLimit)
	f.V["splash_image"], f.V["splash_link"] = s.SplashImage, s.SplashLink
	f.V["password"] = s.Password
	if !s.Commission.IsZero() {
		f.V["commission"] = s.Commission.StringFixed(2)
	}
	f.V["hold_days"] = strconv.Itoa(s.HoldDays)
	f.V["product_name"] = s.ProductName
	if !s.Price.IsZero() {
		f.V["price"] = s.Price.StringFixed(2)
	}
	f.V["stock"] = strconv.Itoa(stock)
	f.V["description"] = s.Description
	f.V["max_per_order"] = strconv.Itoa(s.MaxPerOrder)
	f.V["logo"] = s.Logo
	f.V["fulfilment"], f.V["hold_from"] = string(s.Fulfilment), string(s.HoldFrom)
	f.V["auto_complete_days"] = strconv.Itoa(s.AutoCompleteDays)
	f.On["ask_contact"] = s.AskContact
	f.On["show_participants"], f.On["fans_only"], f.On["order_ticker"] = s.ShowParticipants, s.FansOnly, s.OrderTicker
	f.On["buy_before_share"], f.On["poster_enabled"] = s.BuyBeforeShare, s.PosterEnabled
	for _, r := range s.Regions {
		f.Regions[r] = true
	}
	f.Images, f.Details = s.ProductImages, s.DetailImages
	copy(f.Buttons[:], s.Buttons)
	return f
}

func exactTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// parseCampaignForm reads the posted form into settings. Values that do not parse are
// reported per field (the settings then hold zero for them); the rules are the service's.
func parseCampaignForm(c *fiber.Ctx, loc *time.Location) (campaign.Settings, int, campaignForm, map[string]string) {
	args := c.Request().PostArgs()
	v := func(k string) string { return strings.TrimSpace(string(args.Peek(k))) }
	f := campaignForm{V: map[string]string{}, On: map[string]bool{}, Regions: map[string]bool{}}
	for _, k := range formFields {
		f.V[k] = v(k)
	}
	f.V["description"] = string(args.Peek("description")) // keep its line breaks and spaces
	for _, k := range []string{"show_participants", "fans_only", "order_ticker", "buy_before_share", "poster_enabled"} {
		f.On[k] = v(k) != ""
	}
	var set campaign.Settings
	for _, r := range args.PeekMulti("regions") {
		if s := strings.TrimSpace(string(r)); s != "" && !f.Regions[s] {
			f.Regions[s] = true
			set.Regions = append(set.Regions, s)
		}
	}
	for _, img := range args.PeekMulti("product_images") {
		if s := strings.TrimSpace(string(img)); s != "" {
			f.Images = append(f.Images, s)
		}
	}
	for _, img := range args.PeekMulti("detail_images") {
		if s := strings.TrimSpace(string(img)); s != "" {
			f.Details = append(f.Details, s)
		}
	}
	labels, links := args.PeekMulti("button_label"), args.PeekMulti("button_link")
	for i := 0; i < len(labels) && i < len(links) && i < len(f.Buttons); i++ {
		f.Buttons[i] = campaign.Button{Label: strings.TrimSpace(string(labels[i])), Link: strings.TrimSpace(string(links[i]))}
		if f.Buttons[i].Label != "" || f.Buttons[i].Link != "" {
			set.Buttons = append(set.Buttons, f.Buttons[i])
		}
	}

	errs := map[string]string{}
	num := func(field string) int {
		n, msg := parseCount(f.V[field])
		if msg != "" {
			errs[field] = msg
		}
		return n
	}
	money := func(field, label, missing string) decimal.Decimal {
		s := f.V[field]
		if s == "" {
			errs[field] = missing
			return decimal.Zero
		}
		d, err := wallet.ParseAmount(s)
		if err != nil {
			errs[field] = strings.Replace(reasonOf(err), "金额", label, 1) // 佣金最多两位小数
			if strings.Contains(reasonOf(err), "不是有效的金额") {
				errs[field] = "请输入金额，如 2.50"
			}
		}
		return d
	}
	when := func(field string) time.Time {
		s := f.V[field]
		if s == "" {
			return time.Time{}
		}
		t, err := time.ParseInLocation(formTime, s, loc)
		if err != nil {
			if t, err = time.ParseInLocation(formTime+":05", s, loc); err != nil {
				errs[field] = "时间格式不正确"
				return time.Time{}
			}
		}
		if exact, err := time.Parse(time.RFC3339Nano, f.V[field+"_exact"]); err == nil && fmtFormTime(exact, loc) == s {
			return exact
		}
		return t
	}
	set.Title = f.V["title"]
	set.StartsAt, set.EndsAt = when("starts_at"), when("ends_at")
	set.ShowParticipants, set.FansOnly, set.OrderTicker = f.On["show_participants"], f.On["fans_only"], f.On["order_ticker"]
	set.BuyerLimit = num("buyer_limit")
	set.SplashImage, set.SplashLink = f.V["splash_image"], f.V["splash_link"]
	set.Password = f.V["password"]
	set.Commission = money("commission", "佣金", "请填写每件佣金（0.30 到 200.00 元）")
	set.BuyBeforeShare = f.On["buy_before_share"]
	set.HoldDays = num("hold_days")
	set.ProductName = f.V["product_name"]
	set.Price = money("price", "价格", "请填写商品价格")
	set.ProductImages = f.Images
	set.Description = f.V["description"]
	set.DetailImages = f.Details
	set.MaxPerOrder = num("max_per_order")
	set.Logo = f.V["logo"]
	set.PosterEnabled = f.On["poster_enabled"]
	set.Fulfilment, set.HoldFrom = campaign.Fulfilment(f.V["fulfilment"]), campaign.HoldFrom(f.V["hold_from"])
	set.AutoCompleteDays = num("auto_complete_days")
	set.AskContact = f.On["ask_contact"]
	stock := num("stock")
	return set, stock, f, errs
}

// parseCount reads a whole number typed into a form ("" is 0). A number too large for an int
// comes back as the largest int, without a message, so that the service's bound says what
// the limit is (库存最多 1000000 件) instead of a 500 from PostgreSQL's integer columns;
// anything that is not digits (1e3, 1.5, 十) is "请输入整数".
func parseCount(s string) (int, string) {
	if s == "" {
		return 0, ""
	}
	n, err := strconv.Atoi(s)
	if errors.Is(err, strconv.ErrRange) {
		return n, "" // Atoi gives the nearest int: math.MaxInt or math.MinInt
	}
	if err != nil {
		return 0, "请输入整数"
	}
	return n, ""
}

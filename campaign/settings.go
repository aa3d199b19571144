package campaign

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"fenxiao/campaign/merchant"

	"github.com/shopspring/decimal"
)

// ValidationError says, per form field, what is wrong, in words a merchant understands: the
// merchant side's type, so one type answers for every form of the console.
type ValidationError = merchant.ValidationError

func invalid(field, msg string) error { return merchant.Invalid(field, msg) }

// Bounds of the integer settings, well inside PostgreSQL's integer columns (2147483647), so
// that no value a form or an API accepts can overflow one, even summed (stock + added stock,
// sold + held).
const (
	MaxStock      = 1000000
	MaxBuyerLimit = 1000000
)

var (
	minCommission = decimal.RequireFromString("0.30")
	maxCommission = decimal.RequireFromString("200.00")
	maxPrice      = decimal.RequireFromString("1000000.00")
)

// validate checks settings for a new campaign (old == nil) or an edit of old, normalising
// them in place (trimmed text, defaults).
func (s *Service) validate(set *Settings, old *Campaign, stock int) error {
	f := map[string]string{}
	set.Title = strings.TrimSpace(set.Title)
	set.ProductName = strings.TrimSpace(set.ProductName)
	set.Password = strings.TrimSpace(set.Password)
	if set.MaxPerOrder == 0 {
		set.MaxPerOrder = 10
	}

	switch n := utf8.RuneCountInString(set.Title); {
	case n == 0:
		f["title"] = "请填写活动标题"
	case n > 60:
		f["title"] = "活动标题最多 60 个字"
	}
	switch {
	case set.StartsAt.IsZero():
		f["starts_at"] = "请选择开始时间"
	case set.EndsAt.IsZero():
		f["ends_at"] = "请选择结束时间"
	case !set.EndsAt.After(set.StartsAt) && !endedBeforeStart(old, set):
		f["ends_at"] = "结束时间必须晚于开始时间"
	}
	if old != nil && old.Status != Draft && !set.StartsAt.Equal(old.StartsAt) {
		f["starts_at"] = "活动发布后不能修改开始时间"
	}
	// A draft past its end is fixed by a new end time; a published campaign's end is history.
	if old != nil && old.Status != Draft && (old.Status == Ended || !s.now().Before(old.EndsAt)) && !set.EndsAt.Equal(old.EndsAt) {
		f["ends_at"] = "活动结束后不能修改结束时间"
	} else if old != nil && old.Status == Published && !set.EndsAt.Equal(old.EndsAt) && !set.EndsAt.After(s.now()) {
		f["ends_at"] = "结束时间必须晚于现在（如需立即结束，请使用“提前结束”）"
	}
	switch {
	case set.BuyerLimit < 0:
		f["buyer_limit"] = "限购人数不能为负数（0 表示不限）"
	case set.BuyerLimit > MaxBuyerLimit:
		f["buyer_limit"] = fmt.Sprintf("限购人数最多 %d 人（0 表示不限）", MaxBuyerLimit)
	case old != nil && set.BuyerLimit > 0 && set.BuyerLimit < old.Buyers:
		f["buyer_limit"] = fmt.Sprintf("已有 %d 位买家，限购人数不能少于 %d 人（0 表示不限）", old.Buyers, old.Buyers)
	}
	switch {
	case !set.Commission.Equal(set.Commission.Truncate(2)):
		f["commission"] = "佣金最多两位小数"
	case set.Commission.LessThan(minCommission) || set.Commission.GreaterThan(maxCommission):
		f["commission"] = "每件佣金须在 0.30 元到 200.00 元之间"
	}
	if old != nil && old.Status != Draft && !set.Commission.Equal(old.Commission) {
		f["commission"] = "活动发布后不能修改佣金（已按佣金冻结红包资产）"
	}
	switch n := utf8.RuneCountInString(set.ProductName); {
	case n == 0:
		f["product_name"] = "请填写商品名称"
	case n > 60:
		f["product_name"] = "商品名称最多 60 个字"
	}
	switch {
	case !set.Price.IsPositive():
		f["price"] = "价格必须大于 0"
	case !set.Price.Equal(set.Price.Truncate(2)):
		f["price"] = "价格最多两位小数"
	case set.Price.GreaterThan(maxPrice):
		f["price"] = "价格不能超过 1,000,000 元"
	}
	switch {
	case stock < 0:
		f["stock"] = "库存不能为负数"
	case stock > MaxStock:
		f["stock"] = fmt.Sprintf("库存最多 %d 件", MaxStock)
	}
	if utf8.RuneCountInString(set.Description) > 5000 {
		f["description"] = "商品描述最多 5000 个字"
	}
	if utf8.RuneCountInString(set.Password) > 32 {
		f["password"] = "活动密码最多 32 个字符"
	}
	if set.HoldDays < 0 || set.HoldDays > 90 {
		f["hold_days"] = "佣金冻结期须在 0 到 90 天之间"
	}
	if set.MaxPerOrder < 1 || set.MaxPerOrder > 999 {
		f["max_per_order"] = "每单限购须在 1 到 999 件之间"
	}
	for i, r := range set.Regions {
		set.Regions[i] = strings.TrimSpace(r)
		if err := s.regions.ValidEntry(set.Regions[i]); err != nil {
			f["regions"] = err.Error()
			break
		}
	}
	if set.SplashLink != "" && !isWebLink(set.SplashLink) {
		f["splash_link"] = "开屏广告链接须以 http:// 或 https:// 开头"
	}
	if len(set.Buttons) > 4 {
		f["buttons"] = "底部按钮最多 4 个"
	}
	for _, b := range set.Buttons {
		if strings.TrimSpace(b.Label) == "" || utf8.RuneCountInString(b.Label) > 8 {
			f["buttons"] = "按钮文字须为 1 到 8 个字"
		} else if !isWebLink(b.Link) {
			f["buttons"] = fmt.Sprintf("按钮“%s”的链接须以 http:// 或 https:// 开头", b.Label)
		}
	}
	checkFulfilment(set, f)
	checkImageFields(set, f)
	if len(f) > 0 {
		return &ValidationError{Fields: f}
	}
	return nil
}

// endedBeforeStart: a published campaign ended early before its start keeps both times as
// they are (its end lies before its start), and saving its other settings must still work.
func endedBeforeStart(old *Campaign, set *Settings) bool {
	return old != nil && old.Status != Draft && set.StartsAt.Equal(old.StartsAt) && set.EndsAt.Equal(old.EndsAt)
}

func isWebLink(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

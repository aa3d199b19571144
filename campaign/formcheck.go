package campaign

import (
	"context"
	"fmt"

	"fenxiao/wallet"
)

// CheckSettings runs the validation of Create (id 0) or Update (id of the merchant's
// campaign) without saving, so that a form with values that did not even parse can still
// show every other field's message at once.
func (s *Service) CheckSettings(ctx context.Context, merchantID, id int64, set Settings, stock int) error {
	var old *Campaign
	if id != 0 {
		c, err := s.Get(ctx, merchantID, id)
		if err != nil {
			return err
		}
		old, stock = c, c.Stock
	}
	return s.validate(&set, old, stock)
}

// Risks lists, per form field, settings that are allowed but probably not what the merchant
// means, each with its consequence in money or time: a commission above the price (每卖一件你亏
// ¥32.00), a draft's start time already past. The console saves such settings only once the
// merchant confirmed these exact messages. Settings that cannot work are validate's refusals,
// not risks.
func (s *Service) Risks(ctx context.Context, merchantID, id int64, set Settings) (map[string]string, error) {
	var old *Campaign
	if id != 0 {
		c, err := s.Get(ctx, merchantID, id)
		if err != nil {
			return nil, err
		}
		old = c
	}
	r := map[string]string{}
	if set.Price.IsPositive() && set.Commission.IsPositive() {
		switch loss := set.Commission.Sub(set.Price); {
		case loss.IsPositive():
			r["commission"] = fmt.Sprintf("每件佣金 ¥%s 高于商品价格 ¥%s：每卖一件你亏 ¥%s", wallet.Yuan(set.Commission), wallet.Yuan(set.Price), wallet.Yuan(loss))
		case loss.IsZero():
			r["commission"] = fmt.Sprintf("每件佣金等于商品价格 ¥%s：每卖一件的货款全部付给分享者，你不赚钱", wallet.Yuan(set.Price))
		}
	}
	if (old == nil || old.Status == Draft) && !set.StartsAt.IsZero() && set.StartsAt.Before(s.now()) {
		r["starts_at"] = "开始时间已经过去：发布后活动立即开始，活动页不会显示倒计时"
	}
	return r, nil
}

package campaign

import (
	"errors"
	"sort"
	"strings"

	"fenxiao/campaign/merchant"
	"fenxiao/wallet"
	"fenxiao/wechat"
)

// Explain returns what a merchant should read about err: the field messages of a
// *ValidationError, the reason a conflict carries ("活动已发布"), or a sentence for the other
// sentinels and WeChat failures. It returns "" for errors that are not the merchant's to act
// on (a database failure): the console shows its generic page for those.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		keys := make([]string, 0, len(ve.Fields))
		for k := range ve.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		msgs := make([]string, len(keys))
		for i, k := range keys {
			msgs[i] = ve.Fields[k]
		}
		return strings.Join(msgs, "；")
	}
	// Conflicts and sold-out errors carry a Chinese reason after the sentinel ("%w: 活动已发布");
	// the others may carry internal details, so they get a fixed sentence.
	for _, s := range []struct {
		err    error
		text   string
		reason bool
	}{
		{ErrConflict, "操作与当前状态冲突，请刷新后重试", true},
		{ErrSoldOut, "库存不足", true},
		{ErrNotFound, "内容不存在或已删除", false},
		{ErrNoWeChat, "请先在「微信设置」中填写公众号和微信支付信息", false},
		{ErrNotOpen, "活动未在进行中", false},
		{wallet.ErrInsufficientFunds, "红包资产余额不足，请先充值", false},
	} {
		if errors.Is(err, s.err) {
			if _, reason, ok := strings.Cut(err.Error(), s.err.Error()+": "); ok && reason != "" && s.reason {
				return reason
			}
			return s.text
		}
	}
	var we *wechat.Error
	if errors.As(err, &we) {
		return merchant.ExplainWeChat(err)
	}
	return ""
}

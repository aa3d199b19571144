package wallet

import (
	"errors"

	"fenxiao/wechat"
)

// What a sharer reads on their claim records when WeChat refused a packet or held it back:
// why, in their words, what happened to the money, and what they can do. WeChat's own answer
// stays in last_error for operators.

// userRefusals are WeChat's answers about one user, by err_code.
var userRefusals = map[string]string{
	"OPENID_ERROR":          "红包未发出：你的微信账号与本活动的公众号不匹配，金额已退回可提现余额。请从公众号重新进入活动后再提现",
	"NO_AUTH":               "红包未发出：微信暂不允许向你的账号发红包（账号未完成实名认证或存在异常），金额已退回可提现余额。请在微信「我 › 服务 › 钱包」完成实名认证后再提现",
	"USER_ACCOUNT_ABNORMAL": "红包未发出：微信提示你的账号异常，暂不能领取红包，金额已退回可提现余额。账号恢复正常后可再提现",
	"V2_ACCOUNT_SIMPLE_BAN": "红包未发出：你的微信未完成实名认证，不能领取红包，金额已退回可提现余额。请在微信「我 › 服务 › 钱包」完成实名认证后再提现",
	"SENDNUM_LIMIT":         "你今天领取的微信红包个数已达微信的上限，这个红包明天自动发放",
	"RCVDAMOUNT_LIMIT":      "你今天领取的微信红包金额已达微信的上限，这个红包明天自动发放",
}

const failedReason = "红包发放失败，金额已退回可提现余额，可以重新提现"

// sharerReason is what the sharer reads about WeChat's answer err to their packet.
func sharerReason(err error) string {
	var we *wechat.Error
	if errors.As(err, &we) {
		if s, ok := userRefusals[we.Code]; ok {
			return s
		}
	}
	return failedReason
}

// statusReason is what the sharer reads about a packet WeChat reported final.
func statusReason(s PacketStatus) string {
	switch s {
	case PacketRefunded:
		return "24 小时内未领取，金额已退回可提现余额，可以重新提现"
	case PacketFailed:
		return failedReason
	}
	return ""
}

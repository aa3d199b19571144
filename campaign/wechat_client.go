package campaign

import (
	"context"

	"fenxiao/campaign/merchant"
)

// WeChat is what the campaign engine needs from a merchant's WeChat: the merchant side builds
// it from the merchant's stored settings (merchant.Service.WeChatFor).
type WeChat = merchant.WeChat

// wechatFor is the merchant's WeChat client.
func (s *Service) wechatFor(ctx context.Context, merchantID int64) (WeChat, error) {
	return s.merchants.WeChatFor(ctx, merchantID)
}

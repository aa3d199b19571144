package campaign

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"fenxiao/wallet"
	"fenxiao/wechat"
)

// What the follower's H5 pages show, each assembled in one call so their handlers stay a
// straight line.

// Landing is what the landing page of a campaign needs for one visitor.
type Landing struct {
	Gate         Gate
	Participants int          // distinct earners, when the campaign shows them
	Ticker       []TickerItem // recent purchases, when the campaign shows them
	// Reserve is the commission the merchant has frozen for the campaign, still to be earned:
	// the proof that sharers get paid.
	Reserve decimal.Decimal
	// Inviter is the masked nickname of the friend whose share link the visitor opened; ""
	// without one. It is the visitor's own: never part of the page shared by all visitors.
	Inviter string
}

// tickerSize is how many recent purchases the landing page rotates through.
const tickerSize = 10

// Landing binds the visitor to the sharer of shareToken (when valid) and decides the gate for
// the campaign of snap; the numbers the page shows come from the shared snapshot, so the
// visitor costs only their own rows (the gate's per-user checks, when the campaign has them).
func (s *Service) Landing(ctx context.Context, snap *Snapshot, u *User, clientIP, shareToken string) (*Landing, error) {
	c := snap.Campaign
	sharerID := int64(0)
	if shareToken != "" {
		if _, err := s.Bind(ctx, c, u, shareToken); err != nil {
			return nil, err
		}
		sharerID, _ = s.ParseShareToken(c.ID, shareToken)
	}
	g, err := s.Enter(ctx, c, u, clientIP, sharerID)
	if err != nil {
		return nil, err
	}
	l := &Landing{Gate: g}
	if g.Reason == Open {
		l.Participants, l.Ticker, l.Reserve = snap.Participants, snap.Ticker, snap.Reserve
		if l.Inviter, err = s.inviter(ctx, c, u, shareToken); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// BuyerOrder returns one of the buyer's own orders; anyone else's is not found.
func (s *Service) BuyerOrder(ctx context.Context, buyer *User, orderID int64) (*Order, error) {
	o, err := s.Order(ctx, buyer.MerchantID, orderID)
	if err != nil {
		return nil, err
	}
	if o.BuyerID != buyer.ID {
		return nil, fmt.Errorf("order %d: %w", orderID, ErrNotFound)
	}
	return o, nil
}

// Referrer is the masked nickname of the sharer a new order of the buyer would name — the
// one they are bound to now — or "" when they came without a share link. The buy page shows
// it as 本单推荐人 before the buyer pays.
func (s *Service) Referrer(ctx context.Context, c *Campaign, buyer *User) (string, error) {
	var name []string
	err := s.db.SelectContext(ctx, &name, `SELECT u.nickname FROM bindings b JOIN wechat_users u ON u.id = b.sharer_id
WHERE b.campaign_id = $1 AND b.visitor_id = $2`, c.ID, buyer.ID)
	if err != nil || len(name) == 0 {
		return "", err
	}
	return MaskName(name[0]), nil
}

// OrderReferrer is the masked nickname of the sharer frozen on an order, "" for none.
func (s *Service) OrderReferrer(ctx context.Context, o *Order) (string, error) {
	if o.SharerID == nil {
		return "", nil
	}
	u, err := s.User(ctx, o.MerchantID, *o.SharerID)
	if err != nil {
		return "", err
	}
	return MaskName(u.Nickname), nil
}

// Earnings is a sharer's commissions with one merchant: the balances and the latest
// movements of their vault (each commission names its order).
type Earnings struct {
	wallet.VaultBalances
	Lines []wallet.Line
	// UnitsAfterRelease are units friends bought through the sharer but paid for only after
	// the campaign had ended and returned its frozen commissions to the merchant: they earn
	// nothing, and the page says so.
	UnitsAfterRelease int
	// Held are the commissions still held, by order number (a line's Ref): when each becomes
	// claimable.
	Held map[string]HeldCommission
}

// HeldCommission is when a held commission becomes claimable: at SettleAt, or, while its
// order is not done yet and the hold counts from completion, Note says after what
// ("确认收货后 7 天").
type HeldCommission struct {
	SettleAt *time.Time
	Note     string
}

// Earnings reads a sharer's vault and its history, newest first.
func (s *Service) Earnings(ctx context.Context, merchantID, sharerID int64, limit int) (*Earnings, error) {
	v, err := s.wallet.Vault(ctx, merchantID, sharerID)
	if err != nil {
		return nil, err
	}
	p, err := s.wallet.VaultHistory(ctx, merchantID, sharerID, wallet.Filter{Limit: limit})
	if err != nil {
		return nil, err
	}
	e := &Earnings{VaultBalances: v, Lines: p.Lines}
	// Friends' units that earned nothing because they were paid after the campaign settled.
	if err := s.db.GetContext(ctx, &e.UnitsAfterRelease, `SELECT COALESCE(sum(qty), 0) FROM orders
WHERE merchant_id = $1 AND sharer_id = $2 AND no_commission = $3 AND status = 'paid'`, merchantID, sharerID, ReserveReleased); err != nil {
		return nil, fmt.Errorf("campaign: earnings of %d: %w", sharerID, err)
	}
	if e.Held, err = s.heldCommissions(ctx, merchantID, sharerID, e.Lines); err != nil {
		return nil, fmt.Errorf("campaign: held commissions of %d: %w", sharerID, err)
	}
	return e, nil
}

// heldCommissions reads when the commissions of lines still held become claimable, from
// their orders (found by merchant and order number, the sharer's own only).
func (s *Service) heldCommissions(ctx context.Context, merchantID, sharerID int64, lines []wallet.Line) (map[string]HeldCommission, error) {
	var refs []string
	for _, l := range lines {
		if l.Kind == wallet.CommissionHeld && l.Ref != "" {
			refs = append(refs, l.Ref)
		}
	}
	held := map[string]HeldCommission{}
	if len(refs) == 0 {
		return held, nil
	}
	var rows []struct {
		Ref        string     `db:"out_trade_no"`
		SettleAt   *time.Time `db:"settle_at"`
		Fulfilment Fulfilment `db:"fulfilment"`
		HoldDays   int        `db:"hold_days"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT o.out_trade_no, o.settle_at, c.fulfilment, c.hold_days
FROM orders o JOIN campaigns c ON c.id = o.campaign_id
WHERE o.merchant_id = $1 AND o.out_trade_no = ANY($2) AND o.sharer_id = $3 AND o.commission_status = 'held'`,
		merchantID, pq.Array(refs), sharerID); err != nil {
		return nil, err
	}
	for _, r := range rows {
		h := HeldCommission{SettleAt: r.SettleAt}
		if r.SettleAt == nil {
			h.Note = heldUntilDone(r.Fulfilment, r.HoldDays)
		}
		held[r.Ref] = h
	}
	return held, nil
}

// GateError refuses an order because a gate is closed for the buyer.
type GateError struct{ Gate Gate }

func (e *GateError) Error() string { return "campaign: gate closed: " + string(e.Gate.Reason) }

// Is makes a closed gate a conflict with the campaign's state.
func (e *GateError) Is(target error) bool { return target == ErrConflict }

// Buy checks every gate for the buyer, as the landing page did (a page can be skipped), and
// creates the order with its WeChat Pay parameters. Attempts are rate-limited per buyer and
// per public client address (*RateLimitError), before anything else is read or asked.
func (s *Service) Buy(ctx context.Context, c *Campaign, buyer *User, qty int, clientIP string) (*Checkout, error) {
	return s.BuyWith(ctx, c, buyer, OrderForm{Qty: qty}, clientIP)
}

// BuyWith is Buy with the buyer's contact details and remark, for campaigns that ask for them.
func (s *Service) BuyWith(ctx context.Context, c *Campaign, buyer *User, form OrderForm, clientIP string) (*Checkout, error) {
	if err := s.limit(ctx, fmt.Sprintf("order:%d:u%d", c.ID, buyer.ID), ordersPerBuyer, "下单"); err != nil {
		return nil, err
	}
	if limitedAddress(clientIP) {
		if err := s.limit(ctx, fmt.Sprintf("order:%d:ip:%s", c.ID, clientIP), ordersPerAddress, "下单"); err != nil {
			return nil, err
		}
	}
	g, err := s.Enter(ctx, c, buyer, clientIP, 0)
	if err != nil {
		return nil, err
	}
	if g.Reason != Open {
		return nil, &GateError{Gate: g}
	}
	return s.createOrder(ctx, c, buyer, form, clientIP)
}

// ShareSetup is what a page needs to share a campaign through the JS-SDK.
type ShareSetup struct {
	Config      wechat.JSConfig
	Title, Desc string
	Link, Image string
	Earns       Reason // Open when the sharer's shares earn now; else why not
}

// ShareSetup signs wx.config for pageURL (a page of this server) and says what the sharer
// shares: their own link, so friends who buy through it are attributed to them. Snapshot
// users share the plain campaign link: their virtual openid never earns.
func (s *Service) ShareSetup(ctx context.Context, c *Campaign, sharer *User, pageURL string) (*ShareSetup, error) {
	if !strings.HasPrefix(pageURL, s.baseURL+"/") {
		return nil, invalid("url", "只能为本站页面签名")
	}
	wx, err := s.wechatFor(ctx, c.MerchantID)
	if err != nil {
		return nil, err
	}
	cfg, err := wx.JSConfig(ctx, pageURL)
	if err != nil {
		return nil, fmt.Errorf("campaign: wx.config for %s: %w", pageURL, err)
	}
	earns, err := s.CanShare(ctx, c, sharer)
	if err != nil {
		return nil, err
	}
	link := s.CampaignURL(c.ID)
	if earns != SnapshotUser {
		link = s.ShareURL(c.ID, sharer.ID)
	}
	desc := shareDesc(c, s.now())
	if earns == HasEnded {
		desc = truncate(c.ProductName+" · 活动已结束", 60) // no "限时抢购" on a card of an ended campaign
	}
	return &ShareSetup{Config: cfg, Title: c.Title, Desc: desc, Link: link, Image: s.ShareImage(c), Earns: earns}, nil
}

// ShareImage is the picture a shared link shows: the first product image, or the generated
// cover, as an absolute URL (WeChat fetches it).
func (s *Service) ShareImage(c *Campaign) string {
	if len(c.ProductImages) > 0 {
		img := c.ProductImages[0]
		if strings.HasPrefix(img, "/") {
			return s.baseURL + img
		}
		return img
	}
	return fmt.Sprintf("%s/c/%d/cover.png?v=%d", s.baseURL, c.ID, c.Version)
}

// shareDesc is the line under a shared link's title: the price, and whether the sale runs
// or when it opens (in China's time: the friends who read it are there).
func shareDesc(c *Campaign, now time.Time) string {
	when := "限时抢购中"
	if c.Phase(now) == "upcoming" {
		when = c.StartsAt.In(chinaTime).Format("1月2日 15:04") + " 开抢"
	}
	return truncate(fmt.Sprintf("%s 仅 ¥%s，%s", c.ProductName, c.Price.StringFixed(2), when), 60)
}

// chinaTime is the time of the followers a campaign's texts are written for.
var chinaTime = time.FixedZone("CST", 8*3600)

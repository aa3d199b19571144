package campaign

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/wallet"
)

// The sharer's promotion page (我的推广, issue 16): the friends bound to a sharer on one
// campaign, and the orders made through the sharer there, each with what it earns them. Every
// query names the sharer, the campaign and its merchant: nobody else's friends or orders can
// appear, whatever a page asks for.
//
// A friend is a visitor bound to the sharer now (bindings: the latest link opened wins, so a
// friend who opened another sharer's link since is theirs). An order is the sharer's when it
// was made through them (orders.sharer_id, frozen at ordering), even if its buyer moved on.
// Closed orders (never paid, expired) are left out: nothing came of them. Self-purchases never
// show: payment clears the sharer of a buyer's order through their own link (attributeAll).

// TeamTab is the list the promotion page shows.
type TeamTab string

// The lists of the promotion page.
const (
	TeamFriends TeamTab = "friends"
	TeamOrders  TeamTab = "orders"
)

// TeamQuery is one page of one list: After is the cursor of the page before ("" for the
// first), Limit defaults to 20 (at most 100).
type TeamQuery struct {
	Tab   TeamTab
	After string
	Limit int
}

// TeamTotals are the figures at the top of the page.
type TeamTotals struct {
	Friends       int             `db:"friends"`
	BoughtFriends int             `db:"bought_friends"` // friends with a paid order through me
	Orders        int             `db:"orders"`
	Pending       decimal.Decimal `db:"pending"`  // held commissions, not yet claimable
	Credited      decimal.Decimal `db:"credited"` // commissions credited to the vault
}

// Friend is a visitor bound to the sharer.
type Friend struct {
	ID       int64     `db:"visitor_id"`
	Nickname string    `db:"nickname"`
	BoundAt  time.Time `db:"bound_at"`
	Bought   bool      `db:"bought"` // a paid order through me on this campaign
}

// Name is the friend's masked nickname (王**): a sharer sees who, not their full name.
func (f Friend) Name() string { return MaskName(f.Nickname) }

// FriendOrder is an order made through the sharer, with what it earns them.
type FriendOrder struct {
	ID               int64           `db:"id"`
	BuyerName        string          `db:"buyer_name"`
	Qty              int             `db:"qty"`
	Amount           decimal.Decimal `db:"amount"`
	Status           OrderStatus     `db:"status"`
	FulfilState      *FulfilState    `db:"fulfil_state"`
	DoneHow          string          `db:"done_how"`
	Refunded         decimal.Decimal `db:"refunded"`
	Commission       decimal.Decimal `db:"commission"`
	CommissionStatus string          `db:"commission_status"`
	NoCommission     string          `db:"no_commission"`
	VoidedQty        int             `db:"voided_qty"`
	SettleAt         *time.Time      `db:"settle_at"`
	CreatedAt        time.Time       `db:"created_at"`
	Earning          Earning         `db:"-"`
}

// Name is the buyer's masked nickname.
func (o FriendOrder) Name() string { return MaskName(o.BuyerName) }

// StatusLabel is where the order is, in the buyer's words: 待支付, 已支付, 已发货, 已完成
// (已核销), 已退款.
func (o FriendOrder) StatusLabel() string {
	switch o.Status {
	case Pending:
		return "待支付"
	case Refunded, Oversold:
		return "已退款"
	}
	if o.FulfilState == nil {
		return "已支付"
	}
	switch *o.FulfilState {
	case Shipped:
		return "已发货"
	case Done:
		if o.DoneHow == "verified" {
			return "已核销"
		}
		return "已完成"
	}
	return "已支付"
}

// StatusKey names StatusLabel for the page's styles.
func (o FriendOrder) StatusKey() string {
	return map[string]string{"待支付": "pending", "已发货": "shipped", "已完成": "done", "已核销": "done", "已退款": "refunded"}[o.StatusLabel()]
}

// PartRefund is the part refunded of a paid order ("" when none).
func (o FriendOrder) PartRefund() string {
	if o.Status != Paid || !o.Refunded.IsPositive() {
		return ""
	}
	return "已部分退款 ¥" + wallet.Yuan(o.Refunded)
}

// Earning is what an order earns the sharer: credited (in the vault), pending (held; until
// SettleAt when dated, else Note says after what) or none (Note says why).
type Earning struct {
	Kind   string // credited, pending, none
	Amount decimal.Decimal
	Note   string
}

// Team is one page of the promotion page.
type Team struct {
	Totals  TeamTotals
	Tab     TeamTab
	Friends []Friend
	Orders  []FriendOrder
	Next    string // cursor of the next page, "" at the end
}

// Team reads the totals and one page of the list q asks for, of sharer on campaign c.
func (s *Service) Team(ctx context.Context, c *Campaign, sharer *User, q TeamQuery) (*Team, error) {
	if sharer.MerchantID != c.MerchantID {
		return nil, fmt.Errorf("campaign: sharer %d on campaign %d: %w", sharer.ID, c.ID, ErrNotFound)
	}
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 20
	}
	t := &Team{Tab: q.Tab}
	if t.Tab != TeamOrders {
		t.Tab = TeamFriends
	}
	if err := sqlx.GetContext(ctx, s.db, &t.Totals, teamTotalsSQL, c.ID, sharer.ID, c.MerchantID); err != nil {
		return nil, fmt.Errorf("campaign: team totals of %d on %d: %w", sharer.ID, c.ID, err)
	}
	var err error
	if t.Tab == TeamOrders {
		t.Orders, t.Next, err = s.teamOrders(ctx, c, sharer.ID, q)
	} else {
		t.Friends, t.Next, err = s.teamFriends(ctx, c, sharer.ID, q)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: team %s of %d on %d: %w", t.Tab, sharer.ID, c.ID, err)
	}
	return t, nil
}

// boughtThroughSQL is whether friend b paid an order through b's sharer on b's campaign
// (orders_buyer leads to the friend's few orders).
const boughtThroughSQL = `EXISTS (SELECT 1 FROM orders o WHERE o.buyer_id = b.visitor_id AND o.campaign_id = b.campaign_id
    AND o.sharer_id = b.sharer_id AND o.status = 'paid')`

// teamTotalsSQL: the bindings from bindings_sharer, the orders from orders_sharer, both
// scoped to ($1 campaign, $2 sharer, $3 merchant). A commission's worth is per unit × the
// units no refund voided (commission = qty × per unit, so the division is exact).
const teamTotalsSQL = `
SELECT (SELECT count(*) FROM bindings b WHERE b.campaign_id = $1 AND b.sharer_id = $2 AND b.merchant_id = $3) AS friends,
       (SELECT count(*) FROM bindings b WHERE b.campaign_id = $1 AND b.sharer_id = $2 AND b.merchant_id = $3
            AND ` + boughtThroughSQL + `) AS bought_friends,
       count(*) AS orders,
       COALESCE(sum(round(o.commission / o.qty * (o.qty - o.voided_qty), 2)) FILTER (WHERE o.commission_status = 'held'), 0) AS pending,
       COALESCE(sum(round(o.commission / o.qty * (o.qty - o.voided_qty), 2)) FILTER (WHERE o.commission_status = 'earned'), 0) AS credited
FROM orders o WHERE o.sharer_id = $2 AND o.campaign_id = $1 AND o.merchant_id = $3 AND o.status <> 'closed'`

// teamFriends is a page of the sharer's friends, the latest bound first; the cursor is the
// last one's (bound_at, visitor id).
func (s *Service) teamFriends(ctx context.Context, c *Campaign, sharerID int64, q TeamQuery) ([]Friend, string, error) {
	args := []any{c.ID, sharerID, c.MerchantID, q.Limit + 1}
	after := ""
	if at, id, ok := parseFriendCursor(q.After); ok {
		args = append(args, at, id)
		after = "AND (b.bound_at, b.visitor_id) < ($5, $6)"
	}
	// The page is cut first, then each of its friends looked up: over the whole list the
	// planner would hash every paid order of the campaign for the EXISTS (33 ms at 100k).
	var rows []Friend
	err := sqlx.SelectContext(ctx, s.db, &rows, `
SELECT b.visitor_id, u.nickname, b.bound_at, `+boughtThroughSQL+` AS bought
FROM (SELECT b.campaign_id, b.visitor_id, b.sharer_id, b.bound_at FROM bindings b
      WHERE b.campaign_id = $1 AND b.sharer_id = $2 AND b.merchant_id = $3 `+after+`
      ORDER BY b.bound_at DESC, b.visitor_id DESC LIMIT $4) b
JOIN wechat_users u ON u.id = b.visitor_id
ORDER BY b.bound_at DESC, b.visitor_id DESC`, args...)
	if err != nil || len(rows) <= q.Limit {
		return rows, "", err
	}
	rows = rows[:q.Limit]
	last := rows[q.Limit-1]
	return rows, strconv.FormatInt(last.BoundAt.UnixMicro(), 10) + "." + strconv.FormatInt(last.ID, 10), nil
}

// parseFriendCursor reads "<bound_at in µs>.<visitor id>"; anything else is the first page.
func parseFriendCursor(s string) (time.Time, int64, bool) {
	at, id, ok := strings.Cut(s, ".")
	us, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, 0, false
	}
	return time.UnixMicro(us), n, true
}

// teamOrders is a page of the orders made through the sharer, newest first; the cursor is the
// last one's id.
func (s *Service) teamOrders(ctx context.Context, c *Campaign, sharerID int64, q TeamQuery) ([]FriendOrder, string, error) {
	args := []any{c.ID, sharerID, c.MerchantID, q.Limit + 1}
	after := ""
	if id, err := strconv.ParseInt(q.After, 10, 64); err == nil && id > 0 {
		args = append(args, id)
		after = "AND o.id < $5"
	}
	var rows []FriendOrder
	err := sqlx.SelectContext(ctx, s.db, &rows, `
SELECT o.id, u.nickname AS buyer_name, o.qty, o.amount, o.status, o.fulfil_state, o.done_how, o.refunded,
       o.commission, o.commission_status, o.no_commission, o.voided_qty, o.settle_at, o.created_at
FROM orders o JOIN wechat_users u ON u.id = o.buyer_id
WHERE o.sharer_id = $2 AND o.campaign_id = $1 AND o.merchant_id = $3 AND o.status <> 'closed' `+after+`
ORDER BY o.id DESC LIMIT $4`, args...)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
		next = strconv.FormatInt(rows[q.Limit-1].ID, 10)
	}
	for i := range rows {
		rows[i].Earning = rows[i].earning(c)
	}
	return rows, next, nil
}

// earning is what order o of campaign c earns its sharer.
func (o FriendOrder) earning(c *Campaign) Earning {
	worth := o.Commission.Div(decimalInt(max(o.Qty, 1))).Mul(decimalInt(o.Qty - o.VoidedQty)).Round(2)
	switch o.CommissionStatus {
	case "earned":
		return Earning{Kind: "credited", Amount: worth}
	case "held":
		e := Earning{Kind: "pending", Amount: worth}
		if o.SettleAt == nil {
			e.Note = heldUntilDone(c.Fulfilment, c.HoldDays) + "入账"
		}
		return e
	case "voided":
		return Earning{Kind: "none", Note: "订单已退款，佣金取消"}
	}
	return Earning{Kind: "none", Note: noCommissionWhy(o.Status, o.NoCommission)}
}

// heldUntilDone says after what a commission held until its order is done matures: "确认收货后
// 7 天" (the page adds 入账 or 可提现).
func heldUntilDone(f Fulfilment, days int) string {
	after := "订单完成后"
	switch f {
	case Delivery:
		after = "确认收货后"
	case Pickup:
		after = "到店核销后"
	}
	if days <= 0 {
		return after
	}
	return fmt.Sprintf("%s %d 天", after, days)
}

// noCommissionWhy is why an order earns its sharer nothing, in the sharer's words.
func noCommissionWhy(status OrderStatus, reason string) string {
	switch reason {
	case SelfPurchase:
		return "自己购买不计佣金"
	case SnapshotSharer:
		return "预览模式下分享不计佣金"
	case SharerNotBuyer:
		return "本活动需先购买才计佣金，好友付款时你还未购买"
	case ReserveReleased:
		return "活动结算后才付款，不计佣金"
	case SharerNotViable:
		return "分享人无效，不计佣金"
	}
	switch status {
	case Pending:
		return "待支付"
	case Refunded, Oversold:
		return "订单已退款"
	}
	return "不计佣金"
}

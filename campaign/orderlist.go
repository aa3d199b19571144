package campaign

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"fenxiao/wallet"
)

// OrderFilter narrows the console's order list. Zero values mean "any".
type OrderFilter struct {
	CampaignID int64
	Status     OrderStatus
	Fulfil     FulfilFilter // where paid orders are on their way ("" any)
	From, To   time.Time    // created_at; From inclusive, To exclusive
	Buyer      string       // part of the buyer's nickname, or their exact openid
	Sharer     string       // the same for the credited sharer
	Before     int64        // page cursor: orders with a smaller id
	Limit      int          // default 50, at most 1000
}

// OrderRow is an order with the names the console shows beside it.
type OrderRow struct {
	Order
	CampaignTitle string  `db:"campaign_title"`
	ProductName   string  `db:"product_name"`
	BuyerName     string  `db:"buyer_name"`
	BuyerOpenID   string  `db:"buyer_openid"`
	BuyerAvatar   string  `db:"buyer_avatar"`
	SharerName    *string `db:"sharer_name"`
	SharerOpenID  *string `db:"sharer_openid"`
	// Contact is what the buyer gave at checkout (OrderDetail only; nil when nothing asked).
	Contact *Contact `db:"-"`
}

// OrderPage is one page of orders, newest first; Next is the cursor of the next page, 0 at
// the end.
type OrderPage struct {
	Rows []OrderRow
	Next int64
}

// Buyer is the buyer's name for display: a silent WeChat sign-in knows no nickname.
func (o *OrderRow) Buyer() string { return nameOr(o.BuyerName) }

// Sharer is the name of the sharer the order was made through (本单推荐人), "" for none;
// whether they earned is the order's commission status.
func (o *OrderRow) Sharer() string {
	if o.SharerID == nil {
		return ""
	}
	return nameOr(deref(o.SharerName))
}

func nameOr(nickname string) string {
	if nickname == "" {
		return "微信用户"
	}
	return nickname
}

// FulfilFilter picks paid orders by where they are on their way to the buyer, as the
// console's filter names them.
type FulfilFilter string

// The fulfilment filters.
const (
	FilterToShip   FulfilFilter = "to_ship"
	FilterShipped  FulfilFilter = "shipped"
	FilterDone     FulfilFilter = "done" // completed, other than by a pickup code
	FilterToVerify FulfilFilter = "to_verify"
	FilterVerified FulfilFilter = "verified"
)

// FulfilFilters are the filters in the order the console offers them.
var FulfilFilters = []FulfilFilter{FilterToShip, FilterShipped, FilterDone, FilterToVerify, FilterVerified}

// fulfilStage is fulfil_state with a verified pickup told apart, the expression of the index
// orders_merchant_stage (migration 0024): the conditions repeat it word for word so that a
// page is read off the index.
const fulfilStage = `(CASE WHEN o.fulfil_state = 'done' AND o.done_how = 'verified' THEN 'verified' ELSE o.fulfil_state END)`

// fulfilConds are the filters' conditions. Only paid orders (the index's own condition): a
// refunded one keeps the state it had, but its fulfilment has stopped. The plain fulfil_state
// beside the stage lets one campaign's page come off orders_fulfil.
var fulfilConds = map[FulfilFilter]string{}

func init() {
	for f, state := range map[FulfilFilter]FulfilState{FilterToShip: ToShip, FilterShipped: Shipped, FilterDone: Done, FilterToVerify: ToVerify, FilterVerified: Done} {
		fulfilConds[f] = fmt.Sprintf(`o.status = 'paid' AND %s = '%s' AND o.fulfil_state = '%s'`, fulfilStage, f, state)
	}
}

// Label is the filter in the console's words.
func (f FulfilFilter) Label() string {
	return map[FulfilFilter]string{FilterToShip: "待发货", FilterShipped: "已发货", FilterDone: "已完成", FilterToVerify: "待核销", FilterVerified: "已核销"}[f]
}

// Valid reports whether f is a known filter.
func (f FulfilFilter) Valid() bool { _, ok := fulfilConds[f]; return ok }

var orderStatuses = map[OrderStatus]string{Pending: "待支付", Paid: "已支付", Closed: "已关闭", Refunded: "已退款", Oversold: "超卖退款"}

// Label is the status in the console's words.
func (s OrderStatus) Label() string { return orderStatuses[s] }

// Valid reports whether s is a known status.
func (s OrderStatus) Valid() bool { _, ok := orderStatuses[s]; return ok }

// CommissionLabel says what happened to an order's commission.
func (o *Order) CommissionLabel() string {
	switch o.CommissionStatus {
	case "earned":
		return "已入账"
	case "held":
		return "冻结期中"
	case "voided":
		return "已作废（退款）"
	}
	switch o.NoCommission {
	case NoSharer:
		return "无分享人"
	case SelfPurchase:
		return "自购不计佣金"
	case SnapshotSharer:
		return "分享人为朋友圈快照用户"
	case SharerNotBuyer:
		return "分享人未先购买"
	case SharerNotViable:
		return "分享人无效"
	case ReserveReleased:
		return "活动结算后到账，不计佣金"
	}
	return "—"
}

// Notice tells the merchant what is unusual about an order and what, if anything, to do;
// "" for an ordinary one.
func (o *Order) Notice() string {
	switch {
	case o.Status == Oversold && o.RefundedAt != nil:
		return "买家在订单关闭后才完成支付，库存已售完：已自动原路退款，无需处理。"
	case o.Status == Oversold && o.LastError != "":
		return "买家在订单关闭后才完成支付，库存已售完：自动退款暂未成功（" + o.LastError + "），系统会继续重试；也可在微信支付商户平台手动退款。"
	case o.Status == Oversold:
		return "买家在订单关闭后才完成支付，库存已售完：系统正在自动原路退款。"
	case o.Status == Paid && o.Refunded.IsPositive():
		return "已部分退款 " + wallet.Yuan(o.Refunded) + " 元（共 " + wallet.Yuan(o.Amount) + " 元）。"
	case o.PaidLate && o.Status == Paid:
		return "买家在订单关闭后才完成支付：已补录为已支付并重新占用库存，请正常发货。"
	}
	return ""
}

const orderRowSQL = `
SELECT o.id, o.merchant_id, o.campaign_id, o.buyer_id, o.sharer_id, o.out_trade_no, o.qty, o.amount, o.status,
       o.transaction_id, o.commission, o.commission_status, o.no_commission, o.client_ip, o.created_at, o.expires_at,
       o.paid_at, o.closed_at, o.refunded_at, o.settle_at, o.paid_late, o.refunded, o.voided_qty, o.retry_at, o.attempts, o.last_error, o.refund_check_at, o.refund_checks,
       o.fulfil_state, o.carrier, o.tracking_no, o.shipped_at, o.done_at, o.done_how, o.pickup_code,
       c.title AS campaign_title, c.product_name, b.nickname AS buyer_name, b.openid AS buyer_openid,
       b.avatar_url AS buyer_avatar, sh.nickname AS sharer_name, sh.openid AS sharer_openid
FROM orders o
JOIN campaigns c ON c.id = o.campaign_id AND c.merchant_id = o.merchant_id
JOIN wechat_users b ON b.id = o.buyer_id
LEFT JOIN wechat_users sh ON sh.id = o.sharer_id`

// Orders returns a page of a merchant's orders. A campaign filter naming another merchant's
// campaign is ErrNotFound, like any other foreign id.
func (s *Service) Orders(ctx context.Context, merchantID int64, f OrderFilter) (OrderPage, error) {
	found, err := s.orderSearch(ctx, merchantID, f)
	if err != nil {
		return OrderPage{}, err
	}
	return s.ordersPage(ctx, merchantID, f, found)
}

// orderSearch checks f's campaign and finds the people it names, once for all the pages of a
// list or an export.
func (s *Service) orderSearch(ctx context.Context, merchantID int64, f OrderFilter) (people, error) {
	if f.CampaignID != 0 {
		if _, err := s.Get(ctx, merchantID, f.CampaignID); err != nil {
			return people{}, err
		}
	}
	return s.searchPeople(ctx, merchantID, f)
}

// ordersPage is one page of f, with the people orderSearch found.
func (s *Service) ordersPage(ctx context.Context, merchantID int64, f OrderFilter, found people) (OrderPage, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 1000 {
		f.Limit = 1000
	}
	if found.nobody() {
		return OrderPage{}, nil
	}
	q, args := orderQuery(merchantID, f, found)
	args = append(args, f.Limit+1)
	q += fmt.Sprintf(" ORDER BY o.id DESC LIMIT $%d", len(args))
	var rows []OrderRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, args...); err != nil {
		return OrderPage{}, fmt.Errorf("campaign: orders of merchant %d: %w", merchantID, err)
	}
	p := OrderPage{Rows: rows}
	if len(rows) > f.Limit {
		p.Rows = rows[:f.Limit]
		p.Next = p.Rows[f.Limit-1].ID
	}
	return p, nil
}

// fewPeople is how many users a buyer or sharer search may find for the list to look up
// their orders by user (orders_buyer, orders_sharer); a text found in more names is common,
// and the newest orders are searched for it instead.
const fewPeople = 1000

// people are the users a filter's buyer and sharer texts find, when they find few: nil
// where the text is empty or common.
type people struct {
	buyers, sharers []int64
	buyersFound     bool // buyers is the whole answer (possibly none)
	sharersFound    bool
}

// nobody reports a search that found no one at all: no order can match.
func (p people) nobody() bool {
	return p.buyersFound && len(p.buyers) == 0 || p.sharersFound && len(p.sharers) == 0
}

// searchPeople finds the users of f's buyer and sharer texts first. Looked up by user, a rare
// name's orders cost a few index probes whatever the merchant's size; searched for among the
// newest orders, they cost a walk through all of them when the planner expects more matches
// than there are (seen at 100k orders: 2.5 ms one run, 51 ms the next, by the statistics'
// sample).
func (s *Service) searchPeople(ctx context.Context, merchantID int64, f OrderFilter) (people, error) {
	var p people
	var err error
	if b := strings.TrimSpace(f.Buyer); b != "" {
		if p.buyers, p.buyersFound, err = s.findPeople(ctx, merchantID, b); err != nil {
			return p, err
		}
	}
	if sh := strings.TrimSpace(f.Sharer); sh != "" {
		if p.sharers, p.sharersFound, err = s.findPeople(ctx, merchantID, sh); err != nil {
			return p, err
		}
	}
	return p, nil
}

// findPeople returns the ids of the merchant's users whose openid is text or whose nickname
// contains it, and found = false (and no ids) when more than fewPeople are.
func (s *Service) findPeople(ctx context.Context, merchantID int64, text string) (ids []int64, found bool, err error) {
	err = s.db.SelectContext(ctx, &ids, `SELECT u.id FROM wechat_users u WHERE `+personMatch("u", 2)+` LIMIT $4`,
		merchantID, text, "%"+escapeLike(text)+"%", fewPeople+1)
	if err != nil {
		return nil, false, fmt.Errorf("campaign: search users of merchant %d: %w", merchantID, err)
	}
	if len(ids) > fewPeople {
		return nil, false, nil
	}
	return ids, true, nil
}

func orderQuery(merchantID int64, f OrderFilter, found people) (string, []any) {
	where := []string{"o.merchant_id = $1"}
	args := []any{merchantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if f.CampaignID != 0 {
		add("o.campaign_id = ?", f.CampaignID)
	}
	if f.Status != "" {
		add("o.status = ?", string(f.Status))
	}
	if cond, ok := fulfilConds[f.Fulfil]; ok {
		where = append(where, cond)
	}
	if !f.From.IsZero() {
		add("o.created_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("o.created_at < ?", f.To)
	}
	person := func(alias, text string) {
		args = append(args, text, "%"+escapeLike(text)+"%")
		where = append(where, personMatch(alias, len(args)-1))
	}
	switch b := strings.TrimSpace(f.Buyer); {
	case found.buyersFound:
		add("o.buyer_id = ANY(?)", pq.Array(found.buyers))
	case b != "":
		person("b", b)
	}
	switch sh := strings.TrimSpace(f.Sharer); {
	case found.sharersFound:
		add("o.sharer_id = ANY(?)", pq.Array(found.sharers))
	case sh != "":
		person("sh", sh)
	}
	if f.Before > 0 {
		add("o.id < ?", f.Before)
	}
	return orderRowSQL + "\nWHERE " + strings.Join(where, " AND "), args
}

// personMatch is the condition on the user alias for the search text in $n (their exact
// openid) or $n+1 (a LIKE pattern for part of their nickname), among the users of merchant $1.
// The merchant is named, though it is the order's, so that the openid test can use the
// (merchant_id, openid) key beside the nickname's trigram index: together they find the few
// matching users first instead of testing every order's buyer (40-90 ms at 100k buyers).
func personMatch(alias string, n int) string {
	return fmt.Sprintf(`%[1]s.merchant_id = $1 AND (%[1]s.openid = $%[2]d OR %[1]s.nickname ILIKE $%[3]d)`, alias, n, n+1)
}

// escapeLike makes a search text match itself literally inside ILIKE.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// OrderDetail returns one of a merchant's orders with its names.
func (s *Service) OrderDetail(ctx context.Context, merchantID, id int64) (*OrderRow, error) {
	var o OrderRow
	err := s.db.GetContext(ctx, &o, orderRowSQL+"\nWHERE o.merchant_id = $1 AND o.id = $2", merchantID, id)
	if isNoRows(err) {
		return nil, fmt.Errorf("order %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: order %d: %w", id, err)
	}
	if ct, ok, err := s.OrderContact(ctx, &o.Order); err != nil {
		return nil, err
	} else if ok {
		o.Contact = &ct
	}
	return &o, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

package campaign

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// What moves a paid order along (fulfil.go): the merchant ships it, the buyer confirms receipt
// (or the job does, auto_complete_days after shipping), shop staff verify a pickup code. Each
// step locks the order row, checks the state it moves from and, when it completes the order,
// dates a commission held until completion.

var trackingPattern = regexp.MustCompile(`^[A-Za-z0-9-]{4,40}$`)

// Ship marks a paid delivery order shipped with its carrier and tracking number. A shipped
// order may be shipped again to correct them, until it is done; the buyer is told the
// correction (at most maxShippedNotes messages an order).
func (s *Service) Ship(ctx context.Context, merchantID, orderID int64, carrier, trackingNo string) (*Order, error) {
	o, _, err := s.ship(ctx, merchantID, orderID, carrier, trackingNo, true)
	return o, err
}

// ShippedError refuses to replace the carrier and tracking number of a shipped order (a
// bulk file, ShipAll): the order keeps the ones it has.
type ShippedError struct{ Carrier, TrackingNo string }

func (e *ShippedError) Error() string {
	return fmt.Sprintf("%s: 订单已发货（%s %s）", ErrConflict, e.Carrier, e.TrackingNo)
}

// Is makes it ErrConflict.
func (e *ShippedError) Is(target error) bool { return target == ErrConflict }

// ship is Ship, in one transaction of its own. Shipping an order again with the carrier and
// number it has changes nothing (changed is false); with others it corrects them when correct
// is set and is a *ShippedError when not. The buyer is told in the same transaction: when it
// ships, and of each correction up to maxShippedNotes messages (enqueueShipped).
func (s *Service) ship(ctx context.Context, merchantID, orderID int64, carrier, trackingNo string, correct bool) (o *Order, changed bool, err error) {
	carrier, trackingNo = strings.TrimSpace(carrier), strings.ToUpper(strings.TrimSpace(trackingNo))
	f := map[string]string{}
	if n := utf8.RuneCountInString(carrier); n == 0 || n > 20 {
		f["carrier"] = "请填写快递公司（最多 20 个字）"
	}
	if !trackingPattern.MatchString(trackingNo) {
		f["tracking_no"] = "快递单号须为 4 到 40 位字母、数字或短横线"
	}
	if len(f) > 0 {
		return nil, false, &ValidationError{Fields: f}
	}
	o = &Order{}
	err = s.transact(ctx, func(tx *sqlx.Tx) error {
		changed = false
		if err := lockOrder(ctx, tx, o, `merchant_id = $1 AND id = $2`, merchantID, orderID); err != nil {
			return err
		}
		if err := movable(o, ToShip, Shipped); err != nil {
			return err
		}
		if *o.FulfilState == Shipped && o.Carrier == carrier && o.TrackingNo == trackingNo {
			return nil
		}
		wasShipped := *o.FulfilState == Shipped
		if wasShipped && !correct {
			return &ShippedError{Carrier: o.Carrier, TrackingNo: o.TrackingNo}
		}
		changed = true
		if err := sqlx.GetContext(ctx, tx, o, `UPDATE orders SET fulfil_state = 'shipped', carrier = $2, tracking_no = $3,
    shipped_at = COALESCE(shipped_at, $4) WHERE id = $1 RETURNING `+orderCols, o.ID, carrier, trackingNo, s.now()); err != nil {
			return err
		}
		return s.enqueueShipped(ctx, tx, o, wasShipped)
	})
	if err != nil {
		return nil, false, fmt.Errorf("campaign: ship order %d: %w", orderID, err)
	}
	return o, changed, nil
}

// ConfirmReceipt is the buyer's 确认收货 on a shipped order of theirs.
func (s *Service) ConfirmReceipt(ctx context.Context, buyer *User, orderID int64) (*Order, error) {
	var o Order
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		if err := lockOrder(ctx, tx, &o, `merchant_id = $1 AND id = $2 AND buyer_id = $3`, buyer.MerchantID, orderID, buyer.ID); err != nil {
			return err
		}
		if err := movable(&o, Shipped); err != nil {
			return err
		}
		return s.complete(ctx, tx, &o, "confirmed")
	})
	if err != nil {
		return nil, fmt.Errorf("campaign: confirm receipt of order %d: %w", orderID, err)
	}
	return &o, nil
}

// ErrCodeUsed refuses a pickup code verified before; a *CodeUsedError says when.
var ErrCodeUsed = errors.New("campaign: pickup code already used")

// CodeUsedError is a pickup code verified before, at At.
type CodeUsedError struct{ At time.Time }

func (e *CodeUsedError) Error() string {
	return fmt.Sprintf("%s at %s", ErrCodeUsed, e.At.Format(time.RFC3339))
}

// Is makes it ErrCodeUsed.
func (e *CodeUsedError) Is(target error) bool { return target == ErrCodeUsed }

// VerifyPickup is shop staff accepting a buyer's 12-digit code (typed or scanned) for one of
// the merchant's orders: the order is done, once. A code used before is refused with when.
func (s *Service) VerifyPickup(ctx context.Context, merchantID int64, code string) (*Order, error) {
	code = strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(code))
	if len(code) != 12 || strings.Trim(code, "0123456789") != "" {
		return nil, invalid("code", "核销码须为 12 位数字")
	}
	var o Order
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		err := lockOrder(ctx, tx, &o, `merchant_id = $1 AND pickup_code = $2`, merchantID, code)
		if errors.Is(err, ErrNotFound) {
			return invalid("code", "核销码不存在，请核对后重试")
		}
		if err != nil {
			return err
		}
		if o.FulfilState != nil && *o.FulfilState == Done {
			return &CodeUsedError{At: *o.DoneAt}
		}
		if err := movable(&o, ToVerify); err != nil {
			return err
		}
		if err := s.complete(ctx, tx, &o, "verified"); err != nil {
			return err
		}
		return s.EnqueueVerified(ctx, tx, &o, *o.DoneAt)
	})
	if err != nil {
		return nil, fmt.Errorf("campaign: verify pickup code: %w", err)
	}
	return &o, nil
}

// AutoComplete completes shipped orders whose campaign's auto_complete_days have passed since
// shipping (a job). Orders are taken a batch at a time, skipping ones a buyer is confirming.
func (s *Service) AutoComplete(ctx context.Context) (int, error) {
	done := 0
	for {
		n := 0
		err := s.transact(ctx, func(tx *sqlx.Tx) error {
			var due []Order
			if err := sqlx.SelectContext(ctx, tx, &due, `SELECT `+prefixed("o", orderCols)+` FROM orders o JOIN campaigns c ON c.id = o.campaign_id
WHERE o.fulfil_state = 'shipped' AND o.status = 'paid' AND o.shipped_at < $1::timestamptz - make_interval(days => c.auto_complete_days)
ORDER BY o.shipped_at LIMIT 200 FOR UPDATE OF o SKIP LOCKED`, s.now()); err != nil {
				return err
			}
			for i := range due {
				if err := s.complete(ctx, tx, &due[i], "auto"); err != nil {
					return err
				}
			}
			n = len(due)
			return nil
		})
		done += n
		if err != nil {
			return done, fmt.Errorf("campaign: auto-complete shipped orders: %w", err)
		}
		if n < 200 {
			return done, nil
		}
	}
}

// complete marks locked order o done, and dates its commission when it was held until now.
func (s *Service) complete(ctx context.Context, tx *sqlx.Tx, o *Order, how string) error {
	return sqlx.GetContext(ctx, tx, o, `
UPDATE orders o SET fulfil_state = 'done', done_at = $2::timestamptz, done_how = $3,
    settle_at = CASE WHEN o.commission_status = 'held' AND o.settle_at IS NULL
                     THEN $2::timestamptz + make_interval(days => c.hold_days) ELSE o.settle_at END
FROM campaigns c WHERE o.id = $1 AND c.id = o.campaign_id
RETURNING `+prefixed("o", orderCols), o.ID, s.now(), how)
}

// lockOrder reads and locks the order matching where, or ErrNotFound.
func lockOrder(ctx context.Context, tx *sqlx.Tx, o *Order, where string, args ...any) error {
	err := sqlx.GetContext(ctx, tx, o, `SELECT `+orderCols+` FROM orders WHERE `+where+` FOR UPDATE`, args...)
	if isNoRows(err) {
		return fmt.Errorf("order: %w", ErrNotFound)
	}
	return err
}

// movable refuses to move an order that is not paid or not in one of the states from.
func movable(o *Order, from ...FulfilState) error {
	if o.Status != Paid {
		return fmt.Errorf("%w: 订单%s，不能再操作", ErrConflict, map[OrderStatus]string{
			Pending: "尚未支付", Closed: "已关闭", Refunded: "已退款", Oversold: "已超卖退款",
		}[o.Status])
	}
	if o.FulfilState != nil {
		for _, f := range from {
			if *o.FulfilState == f {
				return nil
			}
		}
		return fmt.Errorf("%w: 订单%s", ErrConflict, o.FulfilState.Label())
	}
	return fmt.Errorf("%w: 订单无需发货", ErrConflict)
}

// prefixed qualifies each column of cols with table alias t.
func prefixed(t, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = t + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

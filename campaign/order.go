package campaign

// Lock order. Every transaction that changes an order, its campaign and money takes its locks
// in this order, so two of them can wait for each other only in one direction (no 40P01):
//
//  1. the order row (SELECT … FOR UPDATE, or the UPDATE that closes it);
//  2. the buyer's slot row (campaign_buyers: takeSlot, giveBackSlot);
//  3. the campaign's reserve account (wallet.LockReserve, or a ledger move from or to it:
//     wallet locks a reserve before the movement's other account);
//  4. the other ledger accounts, in account-id order;
//  5. the campaign row (getCampaign lock, FOR NO KEY UPDATE; or the UPDATE of its counters).
//
// The campaign row is the hottest row of a flash sale (every reservation updates it), so it
// comes last: a payment (order → reserve → vault → campaign) updates the counters as its last
// statement and holds the row only until its commit. A refund that voids a held commission,
// a stock change and the release job lock the reserve before the campaign row.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jmoiron/sqlx"

	"fenxiao/wallet"
	"fenxiao/wechat"
)

const orderCols = `id, merchant_id, campaign_id, buyer_id, sharer_id, out_trade_no, qty, amount, status,
transaction_id, commission, commission_status, no_commission, client_ip, created_at, expires_at, paid_at,
closed_at, refunded_at, settle_at, paid_late, refunded, voided_qty, retry_at, attempts, last_error, refund_check_at, refund_checks,
fulfil_state, carrier, tracking_no, shipped_at, done_at, done_how, pickup_code`

// Checkout is a created order and what the page needs to pay it.
type Checkout struct {
	Order    *Order
	Pay      wechat.PayRequest // the getBrandWCPayRequest parameters
	Existing bool              // the buyer's unpaid order from before: one live order per buyer
}

// CreateOrder reserves qty units for the buyer and asks WeChat Pay for a JSAPI prepay. Stock,
// the buyer limit and whether the campaign is open are decided on the locked campaign row, in
// the transaction of the reservation's batch (reserve.go), so no number of concurrent buyers
// or replicas can oversell. The gates a page shows (fans, region, password) are checked by the
// caller through Enter; the rules that protect stock and money are checked here again.
func (s *Service) CreateOrder(ctx context.Context, campaignID int64, buyer *User, qty int, clientIP string) (*Checkout, error) {
	c, err := s.Public(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	return s.createOrder(ctx, c, buyer, OrderForm{Qty: qty}, clientIP)
}

// OrderForm is what the buy page sends: how many, and the buyer's contact details and remark
// (fulfil.go says which the campaign asks for).
type OrderForm struct {
	Qty     int     `json:"qty"`
	Contact Contact `json:"contact"`
}

// createOrder is CreateOrder for a campaign the caller has just read (Buy: the page's request
// read it). What it read decides only what a reservation may ask for; stock, buyer places and
// whether the campaign is open are decided again on the locked campaign row.
func (s *Service) createOrder(ctx context.Context, c *Campaign, buyer *User, form OrderForm, clientIP string) (*Checkout, error) {
	c, o, err := s.reserveOrder(ctx, c, buyer, form, clientIP)
	var live *liveOrderError
	if errors.As(err, &live) {
		// One live unpaid order per buyer: a second buy pays the first. Its unifiedorder is
		// replayed identically, which WeChat answers with the same prepay_id.
		pay, err := s.prepay(ctx, c, buyer, live.order)
		if err != nil {
			return nil, fmt.Errorf("campaign: pay order %d: %w", live.order.ID, err)
		}
		return &Checkout{Order: live.order, Pay: pay, Existing: true}, nil
	}
	if err != nil {
		return nil, err
	}
	// The WeChat call happens after the commit: no lock is held while WeChat thinks. A process
	// that dies here leaves an order WeChat never saw, which the jobs close.
	pay, err := s.prepay(ctx, c, buyer, o)
	if err != nil {
		if _, cerr := s.closeOrder(ctx, o, "prepay failed"); cerr != nil {
			s.log.Error("close order after failed prepay", "order_id", o.ID, "err", cerr)
		}
		return nil, fmt.Errorf("campaign: pay order %d: %w", o.ID, err)
	}
	return &Checkout{Order: o, Pay: pay}, nil
}

// reserveOrder takes the stock and the buyer's place and records the order, in one transaction
// shared with the other orders of the campaign arriving meanwhile (group commit, reserve.go).
// The order names the sharer the buyer is bound to at this moment (orders.sharer_id): that
// sharer, and no later binding, is the one the payment may credit.
func (s *Service) reserveOrder(ctx context.Context, c *Campaign, buyer *User, form OrderForm, clientIP string) (*Campaign, *Order, error) {
	qty := form.Qty
	if c.MerchantID != buyer.MerchantID {
		return nil, nil, fmt.Errorf("campaign %d: %w", c.ID, ErrNotFound)
	}
	now := s.now()
	if phase := c.Phase(now); phase != "running" {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotOpen, phase)
	}
	if qty < 1 || qty > c.MaxPerOrder {
		return nil, nil, invalid("qty", fmt.Sprintf("每单可购买 1 到 %d 件", c.MaxPerOrder))
	}
	if clientIP == "" {
		clientIP = "127.0.0.1" // WeChat requires an address; unknown ones are sent as loopback
	}
	outTradeNo, err := newTradeNo(now)
	if err != nil {
		return nil, nil, err
	}
	if err := checkContact(c, &form.Contact); err != nil {
		return nil, nil, err
	}
	r := &reservation{buyer: buyer, qty: qty, clientIP: clientIP, outTradeNo: outTradeNo, fulfilment: c.Fulfilment}
	if c.Fulfilment == Delivery || c.AskContact || form.Contact.Remark != "" {
		r.contact = &form.Contact
	}
	o, err := s.reserve(ctx, c, r)
	return c, o, err // on a *liveOrderError the caller pays that order, for campaign c
}

// liveOrderError is the buyer's unpaid order that a new order attempt found.
type liveOrderError struct{ order *Order }

func (e *liveOrderError) Error() string {
	return fmt.Sprintf("campaign: order %d of this buyer is still unpaid", e.order.ID)
}

func (s *Service) prepay(ctx context.Context, c *Campaign, buyer *User, o *Order) (wechat.PayRequest, error) {
	wx, err := s.wechatFor(ctx, c.MerchantID)
	if err != nil {
		return wechat.PayRequest{}, err
	}
	fen, err := wallet.ToFen(o.Amount)
	if err != nil {
		return wechat.PayRequest{}, err
	}
	return wx.PrepayJSAPI(ctx, wechat.Prepay{
		OutTradeNo:  o.OutTradeNo,
		Description: truncate(c.ProductName, 40),
		TotalFen:    fen,
		OpenID:      buyer.OpenID,
		ClientIP:    o.ClientIP,
		NotifyURL:   s.merchants.PayNotifyURL(c.MerchantID),
		TimeExpire:  o.ExpiresAt,
		Attach:      orderAttach(o),
	})
}

// orderAttach is the order's attach field at WeChat: the sharer frozen on it, so the
// signed order WeChat keeps (and its bills) names them too. Derived from the order alone,
// so a replayed unifiedorder is identical and gets the same prepay_id.
func orderAttach(o *Order) string {
	if o.SharerID == nil {
		return ""
	}
	return fmt.Sprintf("sharer=%d", *o.SharerID)
}

// Order returns one of a merchant's orders.
func (s *Service) Order(ctx context.Context, merchantID, id int64) (*Order, error) {
	var o Order
	err := s.db.GetContext(ctx, &o, `SELECT `+orderCols+` FROM orders WHERE merchant_id = $1 AND id = $2`, merchantID, id)
	if isNoRows(err) {
		return nil, fmt.Errorf("order %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: order %d: %w", id, err)
	}
	return &o, nil
}

// BuyerOrders returns a buyer's orders in a campaign, newest first.
func (s *Service) BuyerOrders(ctx context.Context, campaignID, buyerID int64) ([]Order, error) {
	var os []Order
	err := s.db.SelectContext(ctx, &os, `SELECT `+orderCols+` FROM orders WHERE campaign_id = $1 AND buyer_id = $2 ORDER BY id DESC`, campaignID, buyerID)
	if err != nil {
		return nil, fmt.Errorf("campaign: orders of buyer %d: %w", buyerID, err)
	}
	return os, nil
}

// HandlePayNotify verifies a payment notification for a merchant and records the payment.
// It returns nil for duplicates, which WeChat must be told SUCCESS for; an error means the
// notification is forged, for another merchant or does not match the order.
func (s *Service) HandlePayNotify(ctx context.Context, merchantID int64, body []byte) error {
	wx, err := s.wechatFor(ctx, merchantID)
	if err != nil {
		return err
	}
	n, err := wx.ParsePayNotify(body)
	if err != nil {
		return fmt.Errorf("campaign: payment notification for merchant %d: %w", merchantID, err)
	}
	_, err = s.markPaid(ctx, merchantID, n.OutTradeNo, n.TransactionID, n.TotalFen, n.PaidAt)
	return err
}

// markPaidAlone records one payment in a transaction of its own: what a batch of payments
// (payment.go) does for each, and what runs a payment the batch leaves to it (a late one, or
// every one of a batch that failed as a whole). In the same transaction it credits the
// order's sharer. Exactly once: the order row is locked and its status checked,
// transaction_id is unique and the commission's ledger key is the order. recorded is false
// for a duplicate.
//
// Every payment is recorded against its order, also one for an order closed meanwhile (the
// buyer's payment raced the close): it takes its stock and buyer place again when the stock is
// still there (paid_late), and otherwise becomes oversold, refunded by RefundOversold. A
// commission comes only out of a reserve that still holds it.
func (s *Service) markPaidAlone(ctx context.Context, merchantID int64, outTradeNo, transactionID string, paidFen int64, paidAt time.Time) (recorded bool, err error) {
	err = s.transact(ctx, func(tx *sqlx.Tx) error {
		var o Order
		err := sqlx.GetContext(ctx, tx, &o, `SELECT `+orderCols+` FROM orders WHERE merchant_id = $1 AND out_trade_no = $2 FOR UPDATE`, merchantID, outTradeNo)
		var found *Order
		switch {
		case err == nil:
			found = &o
		case !isNoRows(err):
			return err
		}
		late, duplicate, err := checkPayment(found, outTradeNo, paidFen)
		if err != nil || duplicate {
			return err // a duplicate is answered as recorded before
		}
		// Lock order: order, buyer slot, reserve account, other accounts, campaign (see the top
		// of this file).
		newBuyer := 0
		var c *Campaign
		if late {
			// Rare: the order was closed and its stock given back, so whether there is stock for it
			// is decided on the locked campaign row, which this path takes early.
			if newBuyer, err = takeSlot(ctx, tx, o.CampaignID, o.BuyerID, merchantID); err != nil {
				return err
			}
			if err := wallet.LockReserve(ctx, tx, merchantID, o.CampaignID); err != nil {
				return err
			}
			if c, err = getCampaign(ctx, tx, merchantID, o.CampaignID, true); err != nil {
				return err
			}
			if c.Left() < o.Qty {
				// The stock went to others after the close: record the money and refund it.
				if _, err := giveBackSlot(ctx, tx, o.CampaignID, o.BuyerID); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `
UPDATE orders SET status = 'oversold', transaction_id = $2, paid_at = $3, paid_late = true, retry_at = $4, attempts = 0, last_error = ''
WHERE id = $1`, o.ID, transactionID, paidAt, s.now())
				if isUnique(err) {
					return fmt.Errorf("campaign: transaction %s already paid another order", transactionID)
				}
				if err == nil {
					recorded = true
					s.log.Warn("order paid after it was closed and its stock sold: refunding it",
						"merchant_id", merchantID, "order_id", o.ID, "transaction_id", transactionID)
				}
				return err
			}
		} else if c, err = getCampaign(ctx, tx, merchantID, o.CampaignID, false); err != nil {
			// Not locked: the order is pending, so its units are in held on the row, and the
			// reserve cannot be released under it (ReleaseEnded needs held = 0). What attribution
			// reads (commission, hold days, release) cannot change under this payment.
			return err
		}
		credit, err := s.attribute(ctx, tx, c, &o, paidAt)
		if err != nil {
			return err
		}
		start, err := startFulfilment(c, paidAt)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
UPDATE orders SET status = 'paid', transaction_id = $2, paid_at = $3, sharer_id = $4, commission = $5,
    commission_status = $6, no_commission = $7, settle_at = $8, paid_late = $9, retry_at = NULL, last_error = '',
    refund_check_at = $10, fulfil_state = $11, done_at = $12, done_how = $13, pickup_code = $14
WHERE id = $1`, o.ID, transactionID, paidAt, credit.sharerID, credit.amount, credit.status, credit.reason, credit.settleAt, late,
			paidAt.Add(refundChecks[0]), start.state, start.doneAt, start.how, start.code)
		if isUnique(err) {
			return fmt.Errorf("campaign: transaction %s already paid another order", transactionID)
		}
		if err != nil {
			return err
		}
		// The buyer's slot (taken already on a late payment), before the reserve.
		paid := []paidOrder{{buyer: o.BuyerID, qty: o.Qty, amount: o.Amount, paidAt: paidAt}}
		firstPaid, err := countPaidBuyers(ctx, tx, o.CampaignID, merchantID, paid)
		if err != nil {
			return err
		}
		// The hot rows last: the commission's ledger move locks the campaign's reserve, and the
		// campaign's counters are the last statement, so the campaign row is locked only from
		// here to the commit, never across the ledger move.
		if err := s.earn(ctx, tx, c, &o, credit, paidAt); err != nil {
			return err
		}
		held, earned := o.Qty, 0 // a pending order's units move from held to sold; a closed one's come from unsold stock
		if late {
			held = 0
		}
		if credit.status != "none" {
			earned = o.Qty
		}
		if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET held = held - $2, sold = sold + $3, buyers = buyers + $4, earned = earned + $5,
    paid_orders = paid_orders + 1, paid_amount = paid_amount + $6, paid_buyers = paid_buyers + $7 WHERE id = $1`,
			c.ID, held, o.Qty, newBuyer, earned, o.Amount, firstPaid); err != nil {
			return err
		}
		if err := addSales(ctx, tx, c.ID, merchantID, paid); err != nil {
			return err
		}
		if credit.status != "none" {
			if err := addSharers(ctx, tx, c.ID, merchantID, []sharerCredit{{sharer: *credit.sharerID, qty: o.Qty, amount: credit.amount}}); err != nil {
				return err
			}
		}
		recorded = true
		if late {
			s.log.Warn("order paid after it was closed: recorded, its stock taken again", "merchant_id", merchantID, "order_id", o.ID)
		}
		return nil
	})
	return recorded, err
}

// closeOrder closes a pending order and returns its stock (and its buyer slot when the buyer
// has no other live order). Closing twice changes nothing.
func (s *Service) closeOrder(ctx context.Context, o *Order, why string) (closed bool, err error) {
	err = s.transact(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'closed', closed_at = $2 WHERE id = $1 AND status = 'pending'`, o.ID, s.now())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // closed or paid meanwhile
		}
		closed = true
		freed, err := giveBackSlot(ctx, tx, o.CampaignID, o.BuyerID)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE campaigns SET held = held - $2, buyers = buyers - $3 WHERE id = $1`, o.CampaignID, o.Qty, freed)
		return err
	})
	if closed {
		s.log.Info("order closed", "merchant_id", o.MerchantID, "order_id", o.ID, "why", why)
	}
	return closed, err
}

// newTradeNo makes an out_trade_no: time plus 10 random digits, 24 characters.
func newTradeNo(now time.Time) (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1e10))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("FX%s%010d", now.UTC().Format("060102150405"), n.Int64()), nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

package campaign

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// Fulfilment: how a campaign's product reaches the buyer (issue 16).
//
//	delivery  快递发货  paid → to_ship (待发货) → shipped (已发货, carrier and tracking number)
//	                    → done (已完成: the buyer confirms, or auto_complete_days after shipping)
//	pickup    到店核销  paid → to_verify (待核销, a 12-digit code) → done (已核销 by shop staff)
//	virtual   无需配送  paid → done
//
// A campaign whose commission hold counts from completion (hold_from) keeps a commission held
// with no date until its order is done, then for hold_days more.

// Fulfilment is a campaign's way of handing over the product.
type Fulfilment string

// The fulfilment modes.
const (
	Delivery Fulfilment = "delivery"
	Pickup   Fulfilment = "pickup"
	Virtual  Fulfilment = "virtual"
)

// Label is the mode in the merchant's words.
func (f Fulfilment) Label() string {
	switch f {
	case Delivery:
		return "快递发货"
	case Pickup:
		return "到店核销"
	}
	return "无需配送"
}

// HoldFrom is where a campaign's commission hold starts.
type HoldFrom string

// Where a hold starts.
const (
	HoldFromPayment    HoldFrom = "payment"
	HoldFromCompletion HoldFrom = "completion"
)

// FulfilState is where a paid order is on its way to the buyer.
type FulfilState string

// The fulfilment states.
const (
	ToShip   FulfilState = "to_ship"
	Shipped  FulfilState = "shipped"
	ToVerify FulfilState = "to_verify"
	Done     FulfilState = "done"
)

// Label is the state in the buyer's and merchant's words.
func (s FulfilState) Label() string {
	switch s {
	case ToShip:
		return "待发货"
	case Shipped:
		return "已发货"
	case ToVerify:
		return "待核销"
	case Done:
		return "已完成"
	}
	return ""
}

// checkFulfilment validates and defaults the fulfilment settings (validate).
func checkFulfilment(set *Settings, f map[string]string) {
	if set.Fulfilment == "" {
		set.Fulfilment = Virtual
	}
	if set.HoldFrom == "" {
		set.HoldFrom = HoldFromPayment
	}
	if set.AutoCompleteDays == 0 {
		set.AutoCompleteDays = 7
	}
	switch set.Fulfilment {
	case Delivery, Pickup, Virtual:
	default:
		f["fulfilment"] = "请选择发货方式：快递发货、到店核销或无需配送"
	}
	if set.Fulfilment == Delivery {
		set.AskContact = true // an address needs a name and a mobile to go with it
	}
	if set.AutoCompleteDays < 1 || set.AutoCompleteDays > 30 {
		f["auto_complete_days"] = "自动确认收货须在发货后 1 到 30 天"
	}
	switch set.HoldFrom {
	case HoldFromPayment, HoldFromCompletion:
	default:
		f["hold_from"] = "请选择佣金冻结期从付款还是从订单完成起算"
	}
}

// fulfilmentFixed refuses a change of fulfilment mode once the campaign has an order: orders
// already made were made for the old one.
func fulfilmentFixed(ctx context.Context, tx *sqlx.Tx, old *Campaign, set Settings) error {
	if set.Fulfilment == old.Fulfilment {
		return nil
	}
	var any bool
	if err := tx.GetContext(ctx, &any, `SELECT EXISTS (SELECT 1 FROM orders WHERE campaign_id = $1)`, old.ID); err != nil {
		return err
	}
	if any {
		return &ValidationError{Fields: map[string]string{"fulfilment": fmt.Sprintf("活动已有订单，发货方式不能再改（现为%s）", old.Fulfilment.Label())}}
	}
	return nil
}

// Contact is what a buyer gives at checkout: for a delivery the recipient and the address, for
// pickup and virtual orders a name and mobile when the campaign asks for them; a remark always.
type Contact struct {
	Name     string `db:"name" json:"name"`
	Mobile   string `db:"mobile" json:"mobile"`
	Province string `db:"province" json:"province"`
	City     string `db:"city" json:"city"`
	District string `db:"district" json:"district"`
	Detail   string `db:"detail" json:"detail"`
	Remark   string `db:"remark" json:"remark"`
}

// Address is the whole address on one line, as a parcel label has it.
func (ct Contact) Address() string {
	return strings.TrimSpace(ct.Province + ct.City + ct.District + " " + ct.Detail)
}

var mobilePattern = regexp.MustCompile(`^1[3-9][0-9]{9}$`)

// checkContact normalises what the buyer typed and says, field by field, what is missing or
// wrong for campaign c. Fields the campaign does not ask for are dropped.
func checkContact(c *Campaign, ct *Contact) error {
	trim := func(s *string) { *s = strings.TrimSpace(*s) }
	for _, s := range []*string{&ct.Name, &ct.Mobile, &ct.Province, &ct.City, &ct.District, &ct.Detail, &ct.Remark} {
		trim(s)
	}
	ct.Mobile = strings.NewReplacer(" ", "", "-", "").Replace(ct.Mobile)
	f := map[string]string{}
	if utf8.RuneCountInString(ct.Remark) > 100 {
		f["remark"] = "备注最多 100 个字"
	}
	delivery := c.Fulfilment == Delivery
	if !delivery {
		ct.Province, ct.City, ct.District, ct.Detail = "", "", "", ""
	}
	if !delivery && !c.AskContact {
		ct.Name, ct.Mobile = "", ""
	} else {
		who := "姓名"
		if delivery {
			who = "收货人姓名"
		}
		switch n := utf8.RuneCountInString(ct.Name); {
		case n == 0:
			f["name"] = "请填写" + who
		case n > 20:
			f["name"] = who + "最多 20 个字"
		}
		switch {
		case ct.Mobile == "":
			f["mobile"] = "请填写手机号码"
		case !mobilePattern.MatchString(ct.Mobile):
			f["mobile"] = "手机号码须为 11 位数字，以 1 开头"
		}
	}
	if delivery {
		switch {
		case ct.Province == "" || ct.City == "":
			f["region"] = "请选择省份和城市"
		case ct.District == "":
			f["region"] = "请填写区县（如 西湖区）"
		}
		for _, s := range []string{ct.Province, ct.City, ct.District} {
			if utf8.RuneCountInString(s) > 20 {
				f["region"] = "省、市、区的名称过长，请重新选择"
			}
		}
		switch n := utf8.RuneCountInString(ct.Detail); {
		case n < 2:
			f["detail"] = "请填写详细地址（街道、门牌号）"
		case n > 120:
			f["detail"] = "详细地址最多 120 个字"
		}
	}
	if len(f) > 0 {
		return &ValidationError{Fields: f}
	}
	return nil
}

// LastContact is what the buyer gave at their newest checkout with this merchant, to fill
// the next one; zero when none.
func (s *Service) LastContact(ctx context.Context, buyer *User) (Contact, error) {
	var cs []Contact
	err := s.db.SelectContext(ctx, &cs, `SELECT name, mobile, province, city, district, detail, '' AS remark
FROM order_contacts WHERE buyer_id = $1 AND merchant_id = $2 ORDER BY order_id DESC LIMIT 1`, buyer.ID, buyer.MerchantID)
	if err != nil || len(cs) == 0 {
		return Contact{}, err
	}
	return cs[0], nil
}

// OrderContact is what the buyer gave for order o; ok is false when the order asked nothing.
func (s *Service) OrderContact(ctx context.Context, o *Order) (ct Contact, ok bool, err error) {
	var cs []Contact
	err = s.db.SelectContext(ctx, &cs, `SELECT name, mobile, province, city, district, detail, remark
FROM order_contacts WHERE order_id = $1 AND merchant_id = $2`, o.ID, o.MerchantID)
	if err != nil || len(cs) == 0 {
		return Contact{}, false, err
	}
	return cs[0], true, nil
}

// fulfilAtPayment is where an order of c starts once paid at paidAt.
type fulfilStart struct {
	state  FulfilState
	doneAt *time.Time
	how    string
	code   *string
}

func startFulfilment(c *Campaign, paidAt time.Time) (fulfilStart, error) {
	switch c.Fulfilment {
	case Delivery:
		return fulfilStart{state: ToShip}, nil
	case Pickup:
		code, err := pickupCode()
		return fulfilStart{state: ToVerify, code: &code}, err
	}
	return fulfilStart{state: Done, doneAt: &paidAt, how: "virtual"}, nil
}

// pickupCode is a fresh 12-digit code (unique per merchant: a clash fails the payment's
// transaction, which then runs again alone with another code).
func pickupCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1e12))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%012d", n.Int64()), nil
}

// holdsUntilDone reports whether c's commissions wait for their order's completion.
func holdsUntilDone(c *Campaign) bool {
	return c.HoldFrom == HoldFromCompletion && c.Fulfilment != Virtual
}

// FulfilLabel is where a paid order is, in the merchant's words ("" before payment).
func (o *Order) FulfilLabel() string {
	if o.FulfilState == nil {
		return ""
	}
	if *o.FulfilState == Done && o.DoneHow == "verified" {
		return "已核销"
	}
	return o.FulfilState.Label()
}

// DoneHowLabel says how the order was completed.
func (o *Order) DoneHowLabel() string {
	return map[string]string{"confirmed": "买家确认收货", "auto": "发货后自动确认", "verified": "到店核销", "virtual": "付款即完成"}[o.DoneHow]
}

// Shippable reports whether the merchant may (still) ship the order or correct its tracking.
func (o *Order) Shippable() bool {
	return o.Status == Paid && o.FulfilState != nil && (*o.FulfilState == ToShip || *o.FulfilState == Shipped)
}

// Verifiable reports whether the order waits for its pickup code.
func (o *Order) Verifiable() bool {
	return o.Status == Paid && o.FulfilState != nil && *o.FulfilState == ToVerify
}

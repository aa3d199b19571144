package campaign

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/campaign/merchant"
	"fenxiao/wallet"
)

// A campaign's life as the merchant drives it: created as a draft, edited, published (its
// reserve frozen: stock × commission), stock adjusted (the reserve follows), ended early. The
// jobs (jobs.go) end it on time and release what is left.

const campaignCols = `id, merchant_id, status, title, starts_at, ends_at, show_participants, buyer_limit,
fans_only, splash_image, splash_link, order_ticker, regions, password, commission, buy_before_share,
hold_days, product_name, price, product_images, description, detail_images, logo, buttons, poster_enabled,
max_per_order, fulfilment, ask_contact, auto_complete_days, hold_from,
stock, held, sold, earned, buyers, version, published_at, released_at, created_at, updated_at`

// Get returns a merchant's campaign.
func (s *Service) Get(ctx context.Context, merchantID, id int64) (*Campaign, error) {
	return getCampaign(ctx, s.db, merchantID, id, false)
}

// Public returns a campaign by id alone, for the H5 pages; drafts are not found.
func (s *Service) Public(ctx context.Context, id int64) (*Campaign, error) {
	var c Campaign
	err := s.db.GetContext(ctx, &c, `SELECT `+campaignCols+` FROM campaigns WHERE id = $1 AND status <> 'draft'`, id)
	if isNoRows(err) {
		return nil, fmt.Errorf("campaign %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: get %d: %w", id, err)
	}
	return &c, nil
}

func getCampaign(ctx context.Context, q sqlx.QueryerContext, merchantID, id int64, lock bool) (*Campaign, error) {
	query := `SELECT ` + campaignCols + ` FROM campaigns WHERE merchant_id = $1 AND id = $2`
	if lock {
		// NO KEY UPDATE: serialises writers of the counters without blocking the inserts whose
		// foreign keys point at the campaign (orders, buyer slots), which take KEY SHARE.
		query += ` FOR NO KEY UPDATE`
	}
	var c Campaign
	err := sqlx.GetContext(ctx, q, &c, query, merchantID, id)
	if isNoRows(err) {
		return nil, fmt.Errorf("campaign %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: get %d: %w", id, err)
	}
	return &c, nil
}

// List returns a merchant's campaigns, newest first.
func (s *Service) List(ctx context.Context, merchantID int64) ([]Campaign, error) {
	var cs []Campaign
	err := s.db.SelectContext(ctx, &cs, `SELECT `+campaignCols+` FROM campaigns WHERE merchant_id = $1 ORDER BY id DESC`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("campaign: list of merchant %d: %w", merchantID, err)
	}
	return cs, nil
}

// Create adds a draft campaign with its initial stock. Drafts freeze nothing.
func (s *Service) Create(ctx context.Context, merchantID int64, set Settings, stock int) (*Campaign, error) {
	if err := s.validate(&set, nil, stock); err != nil {
		return nil, err
	}
	if _, err := s.ownImages(ctx, merchantID, &set); err != nil { // fetches pasted addresses: outside the transaction
		return nil, err
	}
	var id int64
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		var err error
		id, err = insertCampaign(ctx, tx, merchantID, set, stock)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("campaign: create: %w", err)
	}
	return s.Get(ctx, merchantID, id)
}

// insertCampaign adds a draft with its initial stock (recorded as its first stock change).
func insertCampaign(ctx context.Context, tx *sqlx.Tx, merchantID int64, set Settings, stock int) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, tx, &id, `
INSERT INTO campaigns (merchant_id, title, starts_at, ends_at, show_participants, buyer_limit, fans_only,
    splash_image, splash_link, order_ticker, regions, password, commission, buy_before_share, hold_days,
    product_name, price, product_images, description, logo, buttons, poster_enabled, max_per_order, stock,
    fulfilment, ask_contact, auto_complete_days, hold_from, detail_images)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24,
    $25, $26, $27, $28, $29)
RETURNING id`, merchantID, set.Title, set.StartsAt, set.EndsAt, set.ShowParticipants, set.BuyerLimit, set.FansOnly,
		set.SplashImage, set.SplashLink, set.OrderTicker, set.Regions, set.Password, set.Commission, set.BuyBeforeShare,
		set.HoldDays, set.ProductName, set.Price, set.ProductImages, set.Description, set.Logo, set.Buttons,
		set.PosterEnabled, set.MaxPerOrder, stock, set.Fulfilment, set.AskContact, set.AutoCompleteDays, set.HoldFrom,
		set.DetailImages)
	if err != nil {
		return 0, err
	}
	if stock > 0 {
		_, err = tx.ExecContext(ctx, `INSERT INTO stock_changes (merchant_id, campaign_id, delta) VALUES ($1, $2, $3)`, merchantID, id, stock)
	}
	return id, err
}

// Update changes a campaign's settings. Once published the start time and the commission are
// frozen (the reserve was computed from it); once ended, the end time too.
func (s *Service) Update(ctx context.Context, merchantID, id int64, set Settings) (*Campaign, error) {
	// Pasted image addresses are fetched before the campaign row is locked. A wrong id only
	// costs a stored upload of the merchant's own.
	if _, err := s.ownImages(ctx, merchantID, &set); err != nil {
		return nil, err
	}
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		c, err := getCampaign(ctx, tx, merchantID, id, true)
		if err != nil {
			return err
		}
		if err := s.validate(&set, c, c.Stock); err != nil {
			return err
		}
		if err := fulfilmentFixed(ctx, tx, c, set); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
UPDATE campaigns SET title = $3, starts_at = $4, ends_at = $5, show_participants = $6, buyer_limit = $7,
    fans_only = $8, splash_image = $9, splash_link = $10, order_ticker = $11, regions = $12, password = $13,
    commission = $14, buy_before_share = $15, hold_days = $16, product_name = $17, price = $18,
    product_images = $19, description = $20, logo = $21, buttons = $22, poster_enabled = $23,
    max_per_order = $24, fulfilment = $25, ask_contact = $26, auto_complete_days = $27, hold_from = $28,
    detail_images = $29, version = version + 1, updated_at = now()
WHERE merchant_id = $1 AND id = $2`, merchantID, id, set.Title, set.StartsAt, set.EndsAt, set.ShowParticipants,
			set.BuyerLimit, set.FansOnly, set.SplashImage, set.SplashLink, set.OrderTicker, set.Regions, set.Password,
			set.Commission, set.BuyBeforeShare, set.HoldDays, set.ProductName, set.Price, set.ProductImages,
			set.Description, set.Logo, set.Buttons, set.PosterEnabled, set.MaxPerOrder, set.Fulfilment, set.AskContact,
			set.AutoCompleteDays, set.HoldFrom, set.DetailImages)
		if err != nil {
			return err
		}
		// The form listed the addresses 0012 dropped above the fields; saved once, it has.
		_, err = tx.ExecContext(ctx, `DELETE FROM dropped_images WHERE merchant_id = $1 AND campaign_id = $2`, merchantID, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("campaign: update %d: %w", id, err)
	}
	return s.Get(ctx, merchantID, id)
}

// ToFreeze is what publishing freezes: one commission per unit of stock.
func (c *Campaign) ToFreeze() decimal.Decimal { return c.Commission.Mul(decimalInt(c.Stock)) }

// Publish freezes stock × commission from the merchant's available assets and opens the
// campaign (a countdown before its start). Not enough balance: nothing changes.
func (s *Service) Publish(ctx context.Context, merchantID, id int64) (*Campaign, error) {
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		c, err := getCampaign(ctx, tx, merchantID, id, true)
		if err != nil {
			return err
		}
		if c.Status != Draft {
			return fmt.Errorf("%w: 活动已发布", ErrConflict)
		}
		// A campaign takes money through the merchant's WeChat Pay: only settings WeChat
		// accepted may open one (and a sign-up alone never can).
		switch ok, err := merchant.WeChatVerifiedIn(ctx, tx, merchantID); {
		case err != nil:
			return err
		case !ok:
			return invalid("wechat", MsgNeedWeChat)
		}
		if !s.now().Before(c.EndsAt) {
			return invalid("ends_at", "结束时间已过，请先修改结束时间")
		}
		if c.Stock > 0 {
			amount := c.ToFreeze()
			if _, err := s.wallet.FreezeReserve(ctx, tx, merchantID, id, amount, fmt.Sprintf("campaign:%d:publish", id)); err != nil {
				return s.fundsError(ctx, merchantID, amount, err)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE campaigns SET status = 'published', published_at = $3, version = version + 1, updated_at = now()
WHERE merchant_id = $1 AND id = $2`, merchantID, id, s.now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("campaign: publish %d: %w", id, err)
	}
	return s.Get(ctx, merchantID, id)
}

// AdjustStock adds (delta > 0) or removes (delta < 0) units. On a published campaign adding
// freezes delta commissions and removing releases them; stock never drops below what is sold
// or held by unpaid orders.
func (s *Service) AdjustStock(ctx context.Context, merchantID, id int64, delta int) (*Campaign, error) {
	if delta == 0 {
		return nil, invalid("stock", "库存变化不能为 0")
	}
	if delta > MaxStock || delta < -MaxStock {
		return nil, invalid("stock", fmt.Sprintf("库存最多 %d 件", MaxStock))
	}
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		// Lock order: the reserve the change freezes into or releases from, then the campaign.
		if err := wallet.LockReserve(ctx, tx, merchantID, id); err != nil {
			return err
		}
		c, err := getCampaign(ctx, tx, merchantID, id, true)
		if err != nil {
			return err
		}
		if c.Status == Ended || c.ReleasedAt != nil || (c.Status == Published && !s.now().Before(c.EndsAt)) {
			return fmt.Errorf("%w: %s", ErrConflict, msgStockAfterEnd)
		}
		if c.Stock+delta > MaxStock {
			return invalid("stock", fmt.Sprintf("库存最多 %d 件：现有 %d 件，最多还能增加 %d 件", MaxStock, c.Stock, max(MaxStock-c.Stock, 0)))
		}
		if c.Stock+delta < c.Sold+c.Held {
			return invalid("stock", tooMuchRemoved(c, -delta))
		}
		var change int64
		if err := sqlx.GetContext(ctx, tx, &change, `INSERT INTO stock_changes (merchant_id, campaign_id, delta) VALUES ($1, $2, $3) RETURNING id`,
			merchantID, id, delta); err != nil {
			return err
		}
		if c.Status == Published {
			key := fmt.Sprintf("campaign:%d:stock:%d", id, change)
			amount := c.Commission.Mul(decimalInt(abs(delta)))
			if delta > 0 {
				if _, err := s.wallet.FreezeReserve(ctx, tx, merchantID, id, amount, key); err != nil {
					return s.fundsError(ctx, merchantID, amount, err)
				}
			} else if _, err := s.wallet.ReleaseReserve(ctx, tx, merchantID, id, amount, key); err != nil {
				return err
			}
		}
		// The end is checked again by the statement itself: a published campaign past its end
		// (s.now(), the clock EndNow writes with) changes nothing, whatever the check above read.
		res, err := tx.ExecContext(ctx, `UPDATE campaigns SET stock = stock + $3, version = version + 1, updated_at = now()
WHERE merchant_id = $1 AND id = $2 AND released_at IS NULL AND (status = 'draft' OR (status = 'published' AND ends_at > $4))`,
			merchantID, id, delta, s.now())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("%w: %s", ErrConflict, msgStockAfterEnd) // the transaction rolls the freeze back
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("campaign: stock of %d: %w", id, err)
	}
	return s.Get(ctx, merchantID, id)
}

// msgStockAfterEnd refuses a stock change once the campaign's end time passed, before and
// after the release job returned its reserve.
const msgStockAfterEnd = "活动已结束，不能再调整库存（剩余冻结资产会自动解冻回可用余额）"

// tooMuchRemoved says how many units may be removed at most: sold units and units held by
// unpaid orders stay.
func tooMuchRemoved(c *Campaign, remove int) string {
	most := max(c.Stock-c.Sold-c.Held, 0)
	if most == 0 {
		return fmt.Sprintf("现在不能减少库存：%d 件库存都已售出或待支付", c.Stock)
	}
	return fmt.Sprintf("最多还能减少 %d 件（库存 %d 件，其中已售出 %d 件、待支付 %d 件），不能减少 %d 件", most, c.Stock, c.Sold, c.Held, remove)
}

// EndNow ends a running or upcoming campaign early: its end time becomes now. The release
// job returns the reserve once no unpaid order remains.
func (s *Service) EndNow(ctx context.Context, merchantID, id int64) (*Campaign, error) {
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		c, err := getCampaign(ctx, tx, merchantID, id, true)
		if err != nil {
			return err
		}
		now := s.now()
		if c.Status != Published || !now.Before(c.EndsAt) {
			return fmt.Errorf("%w: 只有进行中或未开始的活动可以提前结束", ErrConflict)
		}
		// The start time stays as planned, even when it lies ahead: ended before it started.
		_, err = tx.ExecContext(ctx, `UPDATE campaigns SET ends_at = $3, version = version + 1, updated_at = now() WHERE merchant_id = $1 AND id = $2`,
			merchantID, id, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("campaign: end %d: %w", id, err)
	}
	return s.Get(ctx, merchantID, id)
}

// fundsError turns the wallet's refusal into a message a merchant can act on.
func (s *Service) fundsError(ctx context.Context, merchantID int64, need decimal.Decimal, err error) error {
	if !isInsufficient(err) {
		return err
	}
	a, aerr := s.wallet.Assets(ctx, merchantID)
	if aerr != nil {
		return err
	}
	short := need.Sub(a.Available)
	return &ValidationError{Fields: map[string]string{
		"stock": fmt.Sprintf("红包资产余额不足：需要冻结 ¥%s，可用余额 ¥%s，还差 ¥%s", wallet.Yuan(need), wallet.Yuan(a.Available), wallet.Yuan(short)),
	}, Cause: wallet.ErrInsufficientFunds, Shortfall: short}
}

// MsgNeedWeChat is what publishing without verified WeChat settings answers, and what the
// console's campaign page says before the merchant tries.
const MsgNeedWeChat = "请先完成微信设置并通过验证，再发布活动"

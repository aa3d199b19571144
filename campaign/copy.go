package campaign

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// copyPrefix starts the title of a copy.
const copyPrefix = "副本 "

// Copy makes a new draft with the settings of one of the merchant's campaigns, draft or
// published, titled "副本 …". Its images are the same uploads (content-addressed media, shared
// by both); stock, sales and frozen money stay with the original: the copy starts with no
// stock. Times the copy cannot keep as a draft (an end before its start, after an early end)
// keep the planned length instead.
func (s *Service) Copy(ctx context.Context, merchantID, id int64) (*Campaign, error) {
	var copyID int64
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		c, err := getCampaign(ctx, tx, merchantID, id, false)
		if err != nil {
			return err
		}
		set := c.Settings
		set.Title = copyTitle(set.Title)
		if !set.EndsAt.After(set.StartsAt) {
			set.EndsAt = set.StartsAt.Add(7 * 24 * time.Hour)
		}
		copyID, err = insertCampaign(ctx, tx, merchantID, set, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("campaign: copy %d: %w", id, err)
	}
	return s.Get(ctx, merchantID, copyID)
}

// copyTitle prefixes a title, within the 60 characters a title may have.
func copyTitle(title string) string {
	t := copyPrefix + title
	for utf8.RuneCountInString(t) > 60 {
		_, size := utf8.DecodeLastRuneInString(t)
		t = t[:len(t)-size]
	}
	return t
}

// Delete removes a draft of the merchant's. Published and ended campaigns have orders, money
// and history: they are never deleted (ErrConflict). Images stay: they are uploads other
// campaigns may show.
func (s *Service) Delete(ctx context.Context, merchantID, id int64) error {
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		c, err := getCampaign(ctx, tx, merchantID, id, true)
		if err != nil {
			return err
		}
		if c.Status != Draft {
			return fmt.Errorf("%w: 只能删除草稿；已发布的活动可以复制为新草稿", ErrConflict)
		}
		for _, q := range []string{
			`DELETE FROM stock_changes WHERE merchant_id = $1 AND campaign_id = $2`,
			`DELETE FROM dropped_images WHERE merchant_id = $1 AND campaign_id = $2`,
		} {
			if _, err := tx.ExecContext(ctx, q, merchantID, id); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM campaigns WHERE merchant_id = $1 AND id = $2 AND status = 'draft'`, merchantID, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("campaign: delete %d: %w", id, err)
	}
	return nil
}

package campaign

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"fenxiao/campaign/region"
	"fenxiao/wechat"
)

// Reason is why a visitor cannot take part (or share) now; the page shows one per reason.
type Reason string

// Gate reasons. The empty reason lets the visitor in.
const (
	Open             Reason = ""
	NeedPassword     Reason = "password"
	RegionNotAllowed Reason = "region"
	NotStarted       Reason = "not_started"
	HasEnded         Reason = "ended"
	NotFan           Reason = "not_fan"
	SoldOut          Reason = "sold_out"
	BuyersFull       Reason = "buyer_limit"
	SnapshotUser     Reason = "snapshot"  // WeChat snapshot mode: open the page fully to buy or share
	MustBuyFirst     Reason = "buy_first" // sharing only: buy-before-sharing
)

// Gate is the verdict for one visitor, with what the page needs to act on it.
type Gate struct {
	Reason   Reason
	StartsAt time.Time    // NotStarted: when it opens
	Region   region.Place // RegionNotAllowed: the region detected from the visitor's IP
	FollowQR *wechat.QR   // NotFan: the OA's follow QR that brings them back here
	// SoldOut while units are only held by unpaid orders: when the first of them times out
	// (a unit may come back then); nil when everything is sold.
	ReleasesAt *time.Time
}

// Enter decides whether a visitor may take part in a campaign now. Checks run in the order a
// visitor meets them: password, region, time, fans only, stock, buyer limit.
func (s *Service) Enter(ctx context.Context, c *Campaign, u *User, clientIP string, sharerID int64) (Gate, error) {
	if g, err := s.admission(ctx, c, u, clientIP); err != nil || g.Reason != Open {
		return g, err
	}
	switch c.Phase(s.now()) {
	case "upcoming":
		return Gate{Reason: NotStarted, StartsAt: c.StartsAt}, nil
	case "ended", "draft":
		return Gate{Reason: HasEnded}, nil
	}
	if u.Snapshot {
		return Gate{Reason: SnapshotUser}, nil
	}
	if c.FansOnly {
		if err := s.refreshFan(ctx, u); err != nil {
			return Gate{}, fmt.Errorf("campaign: fan check of user %d: %w", u.ID, err)
		}
		if !u.Subscribed {
			if sharerID == 0 { // no token on this visit: the sharer they came through before
				var err error
				if sharerID, err = s.boundSharer(ctx, c.ID, u.ID); err != nil {
					return Gate{}, err
				}
			}
			qr, err := s.FollowQR(ctx, c, u, sharerID)
			if err != nil {
				return Gate{}, fmt.Errorf("campaign: follow QR: %w", err)
			}
			return Gate{Reason: NotFan, FollowQR: &qr}, nil
		}
	}
	if c.Left() <= 0 {
		// Held units may come back. The buyer whose unpaid order holds some goes on to pay it.
		var g struct {
			Mine       bool       `db:"mine"`
			ReleasesAt *time.Time `db:"releases_at"`
		}
		if err := s.db.GetContext(ctx, &g, `SELECT COALESCE(bool_or(buyer_id = $2), false) AS mine, min(expires_at) AS releases_at
FROM orders WHERE campaign_id = $1 AND status = 'pending' AND expires_at > $3`, c.ID, u.ID, s.now()); err != nil {
			return Gate{}, err
		}
		if !g.Mine {
			return Gate{Reason: SoldOut, ReleasesAt: g.ReleasesAt}, nil
		}
	}
	if c.BuyerLimit > 0 && c.Buyers >= c.BuyerLimit {
		var already bool
		if err := s.db.GetContext(ctx, &already, `SELECT EXISTS (SELECT 1 FROM campaign_buyers WHERE campaign_id = $1 AND buyer_id = $2 AND orders > 0)`, c.ID, u.ID); err != nil {
			return Gate{}, err
		}
		if !already {
			return Gate{Reason: BuyersFull}, nil
		}
	}
	return Gate{}, nil
}

// HasEndedNow reports whether the campaign is over for visitors: its end time passed (by the
// service's clock) or it was ended early.
func (s *Service) HasEndedNow(c *Campaign) bool { return c.Phase(s.now()) == "ended" }

// admission is the part of Enter that says who may take part at all, whatever the time:
// the password and the region. Sharing needs it too (ShareGate).
func (s *Service) admission(ctx context.Context, c *Campaign, u *User, clientIP string) (Gate, error) {
	if c.Password != "" {
		ok, err := s.hasAccess(ctx, c.ID, u.ID)
		if err != nil {
			return Gate{}, err
		}
		if !ok {
			return Gate{Reason: NeedPassword}, nil
		}
	}
	if len(c.Regions) > 0 {
		reg, _ := s.regions.Lookup(clientIP) // an unreadable IP is simply not in an allowed region
		if !region.Allowed(c.Regions, reg) {
			return Gate{Reason: RegionNotAllowed, Region: reg}, nil
		}
	}
	return Gate{}, nil
}

// ShareGate decides whether a visitor may share a campaign: only someone who may take part
// (the password, the region). A campaign that has not started yet can be shared — the rush
// at the start comes from those shares — and its commissions count from the start, when
// friends can buy.
func (s *Service) ShareGate(ctx context.Context, c *Campaign, u *User, clientIP string) (Gate, error) {
	return s.admission(ctx, c, u, clientIP)
}

// CanShare says whether a user's shares earn now: nobody's after the end (HasEnded),
// snapshot users' never, and with buy-before-sharing only users with a paid order do.
func (s *Service) CanShare(ctx context.Context, c *Campaign, u *User) (Reason, error) {
	if s.HasEndedNow(c) {
		return HasEnded, nil // nothing sells any more: no share earns
	}
	if u.Snapshot {
		return SnapshotUser, nil
	}
	if !c.BuyBeforeShare {
		return Open, nil
	}
	var bought bool
	err := s.db.GetContext(ctx, &bought, `SELECT EXISTS (SELECT 1 FROM orders WHERE campaign_id = $1 AND buyer_id = $2 AND status IN ('paid', 'refunded'))`, c.ID, u.ID)
	if err != nil {
		return Open, fmt.Errorf("campaign: share check: %w", err)
	}
	if !bought {
		return MustBuyFirst, nil
	}
	return Open, nil
}

func (s *Service) hasAccess(ctx context.Context, campaignID, userID int64) (bool, error) {
	var ok bool
	err := s.db.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM campaign_access WHERE campaign_id = $1 AND user_id = $2)`, campaignID, userID)
	return ok, err
}

// maxTries is how many passwords a user may try per campaign in one minute.
const maxTries = 5

// TryPassword checks a campaign password. A right one lets the user in for good; at most five
// tries a minute per user (ErrTooManyTries), counted under a per-user lock so parallel tries
// cannot slip past the limit, and at most passwordsPerCamp wrong ones a minute for the whole
// campaign (a *RateLimitError), so many accounts together cannot guess it either. Every try
// takes a place in the campaign's count before the password is compared, so parallel guesses
// cannot overshoot it; a right one gives its place back.
func (s *Service) TryPassword(ctx context.Context, c *Campaign, u *User, password string) error {
	wrong := false
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, int32(c.ID), int32(u.ID)); err != nil {
			return err
		}
		now := s.now()
		var recent int
		if err := sqlx.GetContext(ctx, tx, &recent, `SELECT count(*) FROM password_attempts WHERE campaign_id = $1 AND user_id = $2 AND at > $3`,
			c.ID, u.ID, now.Add(-time.Minute)); err != nil {
			return err
		}
		if recent >= maxTries {
			return ErrTooManyTries
		}
		campKey := fmt.Sprintf("password:%d", c.ID)
		if err := s.limit(ctx, campKey, passwordsPerCamp, "本活动的密码尝试"); err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(password), []byte(c.Password)) != 1 {
			wrong = true // the attempt is recorded: commit it, then say so
			_, err := tx.ExecContext(ctx, `INSERT INTO password_attempts (campaign_id, user_id, at) VALUES ($1, $2, $3)`, c.ID, u.ID, now)
			return err
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE rate_windows SET n = n - 1 WHERE key = $1 AND window_start = $2 AND n > 0`,
			campKey, now.Truncate(passwordsPerCamp.Window)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO campaign_access (campaign_id, user_id, merchant_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			c.ID, u.ID, c.MerchantID)
		return err
	})
	if err == nil && wrong {
		return ErrWrongPassword
	}
	return err
}

// boundSharer is the sharer the visitor is bound to in the campaign, 0 for none.
func (s *Service) boundSharer(ctx context.Context, campaignID, visitorID int64) (int64, error) {
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, `SELECT sharer_id FROM bindings WHERE campaign_id = $1 AND visitor_id = $2`,
		campaignID, visitorID); err != nil {
		return 0, fmt.Errorf("campaign: binding of visitor %d: %w", visitorID, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[0], nil
}

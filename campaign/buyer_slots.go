package campaign

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// A buyer's slot on a campaign (campaign_buyers) counts their live orders: the first takes one
// of the campaign's buyer places (the buyer limit), the last one closed or refunded gives it
// back.

// takeSlot counts one more order (not closed) of the buyer; newBuyer is 1 when it is their
// first, which takes one of the campaign's buyer places. The upsert locks the buyer's row, so
// a close of their other order waits for this transaction and counts from what it wrote.
func takeSlot(ctx context.Context, tx *sqlx.Tx, campaignID, buyerID, merchantID int64) (newBuyer int, err error) {
	var orders int
	err = tx.QueryRowxContext(ctx, `
INSERT INTO campaign_buyers (campaign_id, buyer_id, merchant_id, orders) VALUES ($1, $2, $3, 1)
ON CONFLICT (campaign_id, buyer_id) DO UPDATE SET orders = campaign_buyers.orders + 1
RETURNING orders`, campaignID, buyerID, merchantID).Scan(&orders)
	if orders == 1 {
		newBuyer = 1
	}
	return newBuyer, err
}

// giveBackSlot counts one order of the buyer fewer; freed is 1 when it was their last, which
// gives a buyer place back (the caller updates the campaign's count).
func giveBackSlot(ctx context.Context, tx *sqlx.Tx, campaignID, buyerID int64) (freed int, err error) {
	var orders int
	err = tx.QueryRowxContext(ctx, `UPDATE campaign_buyers SET orders = orders - 1 WHERE campaign_id = $1 AND buyer_id = $2 RETURNING orders`,
		campaignID, buyerID).Scan(&orders)
	if err != nil {
		return 0, fmt.Errorf("buyer %d of campaign %d: %w", buyerID, campaignID, err)
	}
	if orders == 0 {
		freed = 1
	}
	return freed, nil
}

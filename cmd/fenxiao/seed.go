package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"fenxiao/campaign/seed"
)

// cmdSeed fills a published campaign with paid orders, their users, shares, refunds and
// ledger entries in bulk, consistent with every invariant of the audit, so the console's
// figures at scale can be reproduced (fenxiao seed -campaign 7 -orders 100000).
func cmdSeed(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	campaignID := fs.Int64("campaign", 0, "the published campaign to fill (its merchant is looked up)")
	orders := fs.Int("orders", 10000, "paid orders to add, each by a new buyer")
	sharers := fs.Int("sharers", 0, "sharers the attributed orders are spread over (0: one per 20 orders)")
	refundEvery := fs.Int("refund-every", 50, "refund every Nth order in full (0: none)")
	topUps := fs.Int("topups", 0, "paid top-ups of the merchant's assets to add (lines of its statement)")
	cfg, code := parseConfig(fs, args, stderr, "db")
	if cfg == nil {
		return code
	}
	if *campaignID <= 0 {
		fmt.Fprintln(stderr, "fenxiao seed: -campaign is required: the id of a published campaign")
		return exitUsage
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintf(stderr, "fenxiao seed: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	var merchantID int64
	if err := db.GetContext(ctx, &merchantID, `SELECT merchant_id FROM campaigns WHERE id = $1`, *campaignID); err != nil {
		fmt.Fprintf(stderr, "fenxiao seed: campaign %d: %v\n", *campaignID, err)
		return exitFailed
	}
	start := time.Now()
	res, err := seed.Fill(ctx, db, seed.Spec{MerchantID: merchantID, CampaignID: *campaignID, Orders: *orders, Sharers: *sharers, RefundEvery: *refundEvery, TopUps: *topUps})
	if err != nil {
		fmt.Fprintf(stderr, "fenxiao seed: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "seed: campaign %d: %d paid orders (%d units, %d refunded), %d commissions, %d users, %d top-ups in %s\n",
		*campaignID, res.Orders, res.Units, res.Refunds, res.Commissions, res.Users, res.TopUps, time.Since(start).Round(time.Millisecond))
	return exitOK
}

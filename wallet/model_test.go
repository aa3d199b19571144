package wallet_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
)

// The ledger against a map of balances over random sequences of movements, refusals, replays
// and reused keys: after every step each balance equals the model's.
func TestLedgerMatchesModel(t *testing.T) {
	db := dbtest.DB(t)
	svc := wallet.NewService(db)
	rapid.Check(t, func(rt *rapid.T) {
		m := newMerchant(t, db)
		world := wallet.Account{MerchantID: m, Kind: wallet.World}
		model := map[wallet.Account]decimal.Decimal{}
		type done struct {
			from, to wallet.Account
			amount   decimal.Decimal
			key      string
			call     func(decimal.Decimal) (wallet.Transfer, error)
		}
		var history []done
		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		for i := range steps {
			c := int64(rapid.IntRange(1, 2).Draw(rt, "campaign"))
			s := int64(rapid.IntRange(1, 2).Draw(rt, "sharer"))
			amt := wallet.FromFen(int64(rapid.IntRange(1, 5000).Draw(rt, "fen")))
			key := fmt.Sprintf("k%d", i)
			e := wallet.Earning{MerchantID: m, CampaignID: c, SharerID: s, Key: key}
			earn := func(held bool) func(decimal.Decimal) (wallet.Transfer, error) {
				return func(a decimal.Decimal) (wallet.Transfer, error) {
					e.Amount, e.Held = a, held
					return svc.EarnCommission(ctx, nil, e)
				}
			}
			moves := []done{
				{world, wallet.AvailableOf(m), amt, key, func(a decimal.Decimal) (wallet.Transfer, error) { return svc.TopUpAssets(ctx, nil, m, a, key, "") }},
				{wallet.AvailableOf(m), wallet.ReserveOf(m, c), amt, key, func(a decimal.Decimal) (wallet.Transfer, error) {
					return svc.FreezeReserve(ctx, nil, m, c, a, key)
				}},
				{wallet.ReserveOf(m, c), wallet.AvailableOf(m), amt, key, func(a decimal.Decimal) (wallet.Transfer, error) {
					return svc.ReleaseReserve(ctx, nil, m, c, a, key)
				}},
				{wallet.ReserveOf(m, c), wallet.VaultOf(m, s), amt, key, earn(false)},
				{wallet.ReserveOf(m, c), wallet.PendingOf(m, s), amt, key, earn(true)},
				{wallet.PendingOf(m, s), wallet.VaultOf(m, s), amt, key, func(a decimal.Decimal) (wallet.Transfer, error) {
					e.Amount = a
					return svc.SettleCommission(ctx, nil, e)
				}},
				{wallet.PendingOf(m, s), wallet.ReserveOf(m, c), amt, key, func(a decimal.Decimal) (wallet.Transfer, error) {
					e.Amount = a
					return svc.VoidCommission(ctx, nil, e)
				}},
				{wallet.VaultOf(m, s), wallet.InFlightOf(m, s), amt, key, func(a decimal.Decimal) (wallet.Transfer, error) {
					return svc.ClaimPayout(ctx, nil, m, s, a, key, key)
				}},
				{wallet.InFlightOf(m, s), world, amt, key, func(a decimal.Decimal) (wallet.Transfer, error) {
					return svc.PayoutReceived(ctx, nil, m, s, a, key, key)
				}},
				{wallet.InFlightOf(m, s), wallet.VaultOf(m, s), amt, key, func(a decimal.Decimal) (wallet.Transfer, error) {
					return svc.PayoutReturned(ctx, nil, m, s, a, key, key)
				}},
			}
			choice := rapid.IntRange(0, len(moves)+1).Draw(rt, "move")
			switch {
			case choice >= len(moves) && len(history) > 0:
				// Repeat an earlier movement: same amount replays, another amount is refused.
				h := history[rapid.IntRange(0, len(history)-1).Draw(rt, "earlier")]
				tr, err := h.call(h.amount)
				if err != nil || !tr.Replayed {
					rt.Fatalf("replay of %s: %+v %v", h.key, tr, err)
				}
				if _, err := h.call(h.amount.Add(decimal.New(1, -2))); !errors.Is(err, wallet.ErrKeyReused) {
					rt.Fatalf("reuse of %s with another amount: %v", h.key, err)
				}
			case choice < len(moves):
				mv := moves[choice]
				_, err := mv.call(mv.amount)
				if mv.from != world && model[mv.from].LessThan(mv.amount) {
					if !errors.Is(err, wallet.ErrInsufficientFunds) {
						rt.Fatalf("step %d: %s holds %s, moving %s: %v, want ErrInsufficientFunds", i, mv.from.Kind, model[mv.from], mv.amount, err)
					}
					continue
				}
				if err != nil {
					rt.Fatalf("step %d: %v", i, err)
				}
				model[mv.from] = model[mv.from].Sub(mv.amount)
				model[mv.to] = model[mv.to].Add(mv.amount)
				history = append(history, mv)
			}
			for a, want := range model {
				got, err := svc.Balance(ctx, a)
				if err != nil || !got.Equal(want) {
					rt.Fatalf("step %d: %s %d holds %s, model says %s (%v)", i, a.Kind, a.RefID, got, want, err)
				}
			}
		}
	})
}

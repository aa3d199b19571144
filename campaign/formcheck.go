package campaign

import "context"

// CheckSettings runs the validation of Create (id 0) or Update (id of the merchant's
// campaign) without saving, so that a form with values that did not even parse can still
// show every other field's message at once.
func (s *Service) CheckSettings(ctx context.Context, merchantID, id int64, set Settings, stock int) error {
	var old *Campaign
	if id != 0 {
		c, err := s.Get(ctx, merchantID, id)
		if err != nil {
			return err
		}
		old, stock = c, c.Stock
	}
	return s.validate(&set, old, stock)
}

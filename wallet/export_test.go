package wallet

// WithCrash makes a payouts sender abandon a packet at a named point ("leased": committed,
// not yet sent; "sent": WeChat answered, not yet recorded), as if its process died there.
func WithCrash(cfg *PayoutConfig, crash func(point, billNo string) bool) { cfg.crash = crash }

package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"fenxiao/campaign"
	"fenxiao/campaign/seed"
	"fenxiao/wallet"
)

// The CSV exports are streamed page by page: over HTTP they carry exactly what the
// services write (here 2,500 orders and 1,200 statement lines, several pages of 1,000), and
// a filter naming another merchant's campaign is still refused before the first byte.
func TestConsoleCSVStreamed(t *testing.T) {
	srv, base := startStack(t, nil)
	ctx := context.Background()
	a, aID := signUp(t, srv, base, "导出店")
	camp, _, _ := merchantSetup(t, srv, aID, 10)
	_, bID := signUp(t, srv, base, "别家店")
	other, _, _ := merchantSetup(t, srv, bID, 10)
	if _, err := seed.Fill(ctx, srv.DB, seed.Spec{MerchantID: aID, CampaignID: camp.ID, Orders: 2500, TopUps: 1200, RefundEvery: 40}); err != nil {
		t.Fatal(err)
	}
	tz := srv.cfg.TimeZone
	for _, tc := range []struct {
		path   string
		export func(*bytes.Buffer) error
		lines  int
	}{
		{"/console/orders.csv", func(w *bytes.Buffer) error {
			return srv.Campaign.ExportOrders(ctx, aID, campaign.OrderFilter{}, tz, w)
		}, 2500},
		{"/console/assets/statement.csv", func(w *bytes.Buffer) error {
			return srv.Campaign.ExportStatement(ctx, aID, wallet.Filter{}, tz, w)
		}, 1200},
	} {
		var want bytes.Buffer
		if err := tc.export(&want); err != nil {
			t.Fatal(err)
		}
		resp, body := a.get(tc.path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), ".csv") {
			t.Fatalf("%s: %d %s %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
		}
		if body != want.String() {
			t.Errorf("%s: streamed %d bytes, the export writes %d", tc.path, len(body), want.Len())
		}
		if n := strings.Count(body, "\n"); n < tc.lines {
			t.Errorf("%s: %d lines, want at least %d", tc.path, n, tc.lines)
		}
	}
	for _, path := range []string{"/console/orders.csv?campaign=", "/console/assets/statement.csv?campaign="} {
		resp, body := a.get(path + strconv.FormatInt(other.ID, 10))
		if resp.StatusCode != 404 || strings.Contains(body, "订单号") || strings.Contains(body, "参考号") {
			t.Errorf("%s of another merchant's campaign: %d, %.80q", path, resp.StatusCode, body)
		}
	}
}

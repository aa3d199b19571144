package main

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
)

// The funnel and the viral spread of a campaign seeded through the services, and drawn on its
// results page: a direct buyer A, B and C down A's share chain, F who only shares and G who
// buys through F. (The sales chart's days depend on when the test runs; the browser journey's
// screenshot shows it with real data. The drawing itself is pinned by golden files in package
// console.)
func TestConsoleChartsOfASeededCampaign(t *testing.T) {
	srv, base := startStack(t, nil)
	s, _ := testSim()
	ctx := context.Background()
	b, m := signUp(t, srv, base, "图表店")
	c, order, creds := merchantSetup(t, srv, m, 20)
	a, err := srv.Campaign.User(ctx, m, order.BuyerID)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Campaign.RecordView(ctx, c, a.ID); err != nil {
		t.Fatal(err)
	}
	seedPurchases(t, srv, s, creds, c, a)
	r, err := srv.Campaign.Results(ctx, m, c.ID, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if r.Visitors != 5 || r.OrderedBuyers != 4 || r.Buyers != 4 {
		t.Errorf("funnel: %d visitors, %d ordered, %d paid; want 5, 4, 4", r.Visitors, r.OrderedBuyers, r.Buyers)
	}
	wantGens := []campaign.Generation{{Gen: 1, People: 2, Buyers: 1}, {Gen: 2, People: 2, Buyers: 2}, {Gen: 3, People: 1, Buyers: 1}}
	if !reflect.DeepEqual(r.Generations, wantGens) {
		t.Errorf("generations %+v, want %+v", r.Generations, wantGens)
	}
	if k, ok := campaign.Spread(r.Generations); !ok || k != 1 {
		t.Errorf("viral coefficient %v, want (2 + 1) / (1 + 2) = 1", k)
	}
	var units int
	for _, p := range r.Sales {
		units += p.Units
	}
	if units != r.UnitsSold || units != 4 {
		t.Errorf("sales over time: %d units (of %d sold)", units, r.UnitsSold)
	}

	resp, page := b.get(fmt.Sprintf("/console/campaigns/%d/results", c.ID))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("results page: %d\n%s", resp.StatusCode, page)
	}
	funnel, sales, spread := chartOf(page, "转化漏斗"), chartOf(page, "销售趋势"), chartOf(page, "裂变传播")
	for _, want := range []string{">5</text>", ">4</text>", ">80.0%</text>", ">100.0%</text>"} { // 4 of 5 ordered, all 4 paid
		if !strings.Contains(funnel, want) {
			t.Errorf("the funnel chart lacks %q:\n%s", want, funnel)
		}
	}
	if !strings.Contains(sales, "<rect") {
		t.Errorf("no sales bar drawn:\n%s", sales)
	}
	if !strings.Contains(spread, "第 3 代") || strings.Contains(spread, "第 4 代") {
		t.Errorf("the spread chart does not show three generations:\n%s", spread)
	}
}

// chartOf is the SVG chart labelled label on a page ("" when there is none).
func chartOf(page, label string) string {
	return regexp.MustCompile(`<svg [^>]*aria-label="` + regexp.QuoteMeta(label) + `".*?</svg>`).FindString(page)
}

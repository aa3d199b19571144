package console

import (
	"flag"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// golden compares got with testdata/<name>, or rewrites the file with -update. A golden SVG
// opens in any browser, so a person can look at what the test pins down.
func golden(t *testing.T, name string, got template.HTML) {
	t.Helper()
	path := filepath.Join("testdata", "charts", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Charts -update to create it)", err)
	}
	if strings.TrimSuffix(string(want), "\n") != string(got) {
		t.Errorf("%s changed; look at it, then run go test -run Charts -update if that is what you meant\ngot:\n%s", path, got)
	}
}

// The charts of a campaign's results, from the numbers of a seeded campaign of a week: the
// same tree as the browser journey, scaled up.
func TestConsoleChartsGolden(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	day := func(d int) time.Time { return time.Date(2026, 4, 1+d, 0, 0, 0, 0, loc) }
	yuan := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	var sales []campaign.SalesPoint
	for i, amt := range []string{"680", "1360", "3196", "5304", "4080", "2312", "0"} {
		orders := int(yuan(amt).Div(yuan("68")).IntPart())
		sales = append(sales, campaign.SalesPoint{At: day(i), Orders: orders, Units: orders, Amount: yuan(amt)})
	}
	golden(t, "sales-daily.svg", salesChart(sales, false))

	var hourly []campaign.SalesPoint
	for h, n := range []int{0, 0, 1, 3, 2, 5, 8, 4} {
		hourly = append(hourly, campaign.SalesPoint{At: day(0).Add(time.Duration(9+h) * time.Hour), Orders: n, Units: n,
			Amount: yuan("68").Mul(decimal.NewFromInt(int64(n)))})
	}
	golden(t, "sales-hourly.svg", salesChart(hourly, true))
	golden(t, "sales-empty.svg", salesChart(nil, false))

	golden(t, "funnel.svg", funnelChart([]funnelStep{{"访客", 1286}, {"下单人数", 412}, {"支付人数", 371}}))
	golden(t, "funnel-empty.svg", funnelChart([]funnelStep{{"访客", 0}, {"下单人数", 0}, {"支付人数", 0}}))

	gens := []campaign.Generation{{Gen: 1, People: 640, Buyers: 120}, {Gen: 2, People: 410, Buyers: 150}, {Gen: 3, People: 300, Buyers: 80}, {Gen: 4, People: 120, Buyers: 21}, {Gen: 5, People: 30, Buyers: 0}}
	golden(t, "spread.svg", spreadChart(gens))
	golden(t, "spread-empty.svg", spreadChart(nil))
}

// The chart helpers: round axis steps and short money labels.
func TestChartScales(t *testing.T) {
	for v, want := range map[float64]float64{0: 1, 0.3: 0.5, 1: 1, 1.2: 2, 3: 5, 7: 10, 12: 20, 176: 200, 999: 1000, 1001: 2000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
	for v, want := range map[float64]string{0: "¥0", 800: "¥800", 12000: "¥1.2万", 20000: "¥2万"} {
		if got := shortYuan(v); got != want {
			t.Errorf("shortYuan(%v) = %q, want %q", v, got, want)
		}
	}
	if rate(1, 0) != "—" || rate(1, 3) != "33.3%" {
		t.Error("rate")
	}
}

// The results page says what its numbers mean (issue 17 #11): a campaign spreads by itself
// only when K > 1 (K = 1.00 holds steady, a K that rounds to 1.00 is not called spreading
// either), and the funnel's rates are conversions between people, never visitors per page view.
func TestResultsWordsDoNotMislead(t *testing.T) {
	viral := func(k float64, ok bool) string {
		return resultsData{R: &campaign.Results{Viral: k, HasViral: ok}}.ViralText()
	}
	for _, tc := range []struct {
		k          float64
		spreading  bool
		mustSay    string
		mustNotSay string
	}{
		{1, false, "1.00", "自行扩散"},
		{1.004, false, "1.00", "自行扩散"}, // shown as 1.00: not above 1 as the merchant reads it
		{0.996, false, "1.00", "减弱"},   // shown as 1.00: not "weakening" either
		{1.01, true, "1.01", ""},
		{2.5, true, "2.50", ""},
		{0.5, false, "0.50", "自行扩散"},
	} {
		got := viral(tc.k, true)
		if strings.Contains(got, "自行扩散") != tc.spreading || !strings.Contains(got, tc.mustSay) ||
			(tc.mustNotSay != "" && strings.Contains(got, tc.mustNotSay)) {
			t.Errorf("K = %v: %q (spreading %v, must say %q, must not say %q)", tc.k, got, tc.spreading, tc.mustSay, tc.mustNotSay)
		}
	}
	if got := viral(0, false); strings.Contains(got, "扩散") {
		t.Errorf("no buyers: %q", got)
	}

	r := &campaign.Results{Stats: campaign.Stats{Views: 2140, Visitors: 1286, Buyers: 371}, OrderedBuyers: 412}
	steps := resultsFunnel(r)
	for _, s := range steps {
		if strings.Contains(s.Label, "浏览") {
			t.Errorf("funnel step %q: page views are not people, a visitors/views rate is no conversion", s.Label)
		}
	}
	if len(steps) != 3 || steps[0].Value != 1286 || steps[2].Value != 371 {
		t.Errorf("funnel %+v, want 访客 → 下单人数 → 支付人数", steps)
	}
	svg := string(funnelChart(steps))
	if strings.Contains(svg, "60.1%") { // 1286 / 2140
		t.Error("the funnel shows visitors per page view as a rate")
	}
	if !strings.Contains(svg, "32.0%") || !strings.Contains(svg, "90.0%") { // 412 / 1286, 371 / 412
		t.Errorf("the funnel's conversions are missing:\n%s", svg)
	}
}

package console

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
)

// The results page's charts are SVG drawn here, on the server: no script, no chart library,
// nothing from a CDN, and they print and scale like text. Each is a pure function of the
// numbers, so golden files pin them down (charts_test.go, -update).

const (
	chartFont  = `font-family="-apple-system,BlinkMacSystemFont,'PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif"`
	chartGreen = "#07c160"
	chartPale  = "#c7eedb"
	chartInk   = "#1f2329"
	chartMuted = "#8a8f99"
	chartGrid  = "#eceef2"
)

// svgDoc wraps a chart body in an <svg> of its natural size that shrinks to a narrower
// container (never grows: text stays the size of the page's).
func svgDoc(w, h int, label, body string) template.HTML {
	return template.HTML(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" style="max-width:100%%;height:auto" role="img" aria-label="%s" %s font-size="13">%s</svg>`,
		w, h, w, h, html.EscapeString(label), chartFont, body)) //nolint:gosec // every text inside is escaped
}

func esc(s string) string { return html.EscapeString(s) }

// funnelStep is one stage of the funnel from view to purchase.
type funnelStep struct {
	Label string
	Value int
}

// funnelChart draws one bar per stage, centred, its width the stage's share of the first,
// with the conversion from the stage before.
func funnelChart(steps []funnelStep) template.HTML {
	const w, rowH, barH, labelW = 440, 52, 34, 76
	h := len(steps)*rowH + 8
	top := 1
	if len(steps) > 0 && steps[0].Value > 0 {
		top = steps[0].Value
	}
	var b strings.Builder
	span := float64(w - labelW - 60)
	for i, s := range steps {
		y := 8 + i*rowH
		bw := math.Max(2, span*float64(s.Value)/float64(top))
		x := labelW + (span-bw)/2
		shade := []string{"#07c160", "#2fcb7e", "#5fd69b", "#8fe2b8", "#bdeed5"}[min(i, 4)]
		fmt.Fprintf(&b, `<text x="0" y="%d" fill="%s" dominant-baseline="middle">%s</text>`, y+barH/2, chartInk, esc(s.Label))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" rx="4" fill="%s"/>`, x, y, bw, barH, shade)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s" font-weight="600" text-anchor="middle" dominant-baseline="middle">%d</text>`,
			labelW+int(span/2), y+barH/2, chartInk, s.Value)
		if i > 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s" text-anchor="end" dominant-baseline="middle">%s</text>`,
				w, y+barH/2, chartMuted, esc(rate(s.Value, steps[i-1].Value)))
		}
	}
	return svgDoc(w, h, "转化漏斗", b.String())
}

// rate is a conversion in percent, "—" when there was nobody to convert.
func rate(n, of int) string {
	if of <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, so axis ticks are round numbers.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// salesChart draws the paid amount per day (or hour) as bars on a yuan axis, with the order
// count above each bar that has one.
func salesChart(points []campaign.SalesPoint, hourly bool) template.HTML {
	const w, h, left, bottom, top = 620, 240, 56, 32, 20
	plotW, plotH := float64(w-left-8), float64(h-bottom-top)
	maxAmt := 0.0
	for _, p := range points {
		maxAmt = math.Max(maxAmt, p.Amount.InexactFloat64())
	}
	axis := 4 * niceCeil(maxAmt/4) // four round steps
	var b strings.Builder
	for i := 0; i <= 4; i++ {
		v := axis * float64(i) / 4
		y := float64(top) + plotH*(1-float64(i)/4)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`, left, y, w-8, y, chartGrid)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="%s" font-size="11" text-anchor="end" dominant-baseline="middle">%s</text>`,
			left-6, y, chartMuted, esc(shortYuan(v)))
	}
	if len(points) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s" text-anchor="middle">活动开始后，这里按%s显示销售额</text>`,
			left+int(plotW/2), top+int(plotH/2), chartMuted, map[bool]string{true: "小时", false: "天"}[hourly])
		return svgDoc(w, h, "销售趋势", b.String())
	}
	slot := plotW / float64(len(points))
	bw := math.Max(1, math.Min(36, slot*0.7))
	every := int(math.Ceil(float64(len(points)) / 8)) // at most ~8 labels
	for i, p := range points {
		amt := p.Amount.InexactFloat64()
		bh := plotH * amt / axis
		x := float64(left) + slot*float64(i) + (slot-bw)/2
		y := float64(top) + plotH - bh
		if amt > 0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="%s"><title>%s：%s 元，%d 单</title></rect>`,
				x, y, bw, bh, chartGreen, esc(bucketLabel(p.At, hourly, true)), p.Amount.StringFixed(2), p.Orders)
			if bw >= 14 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="%s" font-size="11" text-anchor="middle">%d单</text>`, x+bw/2, y-4, chartMuted, p.Orders)
			}
		}
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="%s" font-size="11" text-anchor="middle">%s</text>`,
				x+bw/2, h-bottom+18, chartMuted, esc(bucketLabel(p.At, hourly, false)))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c9cdd4"/>`, left, float64(top)+plotH, w-8, float64(top)+plotH)
	return svgDoc(w, h, "销售趋势", b.String())
}

func bucketLabel(t time.Time, hourly, long bool) string {
	switch {
	case hourly && long:
		return t.Format("1月2日 15:00")
	case hourly:
		return t.Format("15:00")
	}
	return t.Format("1/2")
}

// shortYuan writes an axis value: ¥800, ¥1.2万.
func shortYuan(v float64) string {
	if v >= 10000 {
		return "¥" + strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v/10000), "0"), ".") + "万"
	}
	return "¥" + decimal.NewFromFloat(v).Round(0).String()
}

// spreadChart draws the viral spread: per generation of the share tree, the people reached
// (pale) and the buyers among them (green).
func spreadChart(gens []campaign.Generation) template.HTML {
	const w, h, left, bottom, top = 1040, 250, 40, 48, 28
	plotW, plotH := float64(w-left-8), float64(h-bottom-top)
	maxN := 0
	for _, g := range gens {
		maxN = max(maxN, g.People)
	}
	axis := 4 * math.Max(1, niceCeil(float64(maxN)/4)) // four whole-number steps
	var b strings.Builder
	for i := 0; i <= 4; i++ {
		y := float64(top) + plotH*(1-float64(i)/4)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`, left, y, w-8, y, chartGrid)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="%s" font-size="11" text-anchor="end" dominant-baseline="middle">%s</text>`,
			left-6, y, chartMuted, trimFloat(axis*float64(i)/4))
	}
	if len(gens) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s" text-anchor="middle">有人访问后，这里显示一代代传播的人数</text>`,
			left+int(plotW/2), top+int(plotH/2), chartMuted)
		return svgDoc(w, h, "裂变传播", b.String())
	}
	slot := plotW / float64(len(gens))
	bw := math.Min(28, slot*0.32)
	for i, g := range gens {
		cx := float64(left) + slot*(float64(i)+0.5)
		for j, v := range []int{g.People, g.Buyers} {
			bh := plotH * float64(v) / axis
			x := cx - bw - 2 + float64(j)*(bw+4)
			y := float64(top) + plotH - bh
			fill := []string{chartPale, chartGreen}[j]
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="%s"/>`, x, y, bw, bh, fill)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="%s" font-size="11" text-anchor="middle">%d</text>`, x+bw/2, y-4, chartInk, v)
		}
		label := fmt.Sprintf("第 %d 代", g.Gen)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="%s" text-anchor="middle">%s</text>`, cx, h-bottom+18, chartInk, esc(label))
		if g.Gen == 1 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="%s" font-size="11" text-anchor="middle">直接访问</text>`, cx, h-bottom+34, chartMuted)
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c9cdd4"/>`, left, float64(top)+plotH, w-8, float64(top)+plotH)
	fmt.Fprintf(&b, `<rect x="%d" y="2" width="10" height="10" rx="2" fill="%s"/><text x="%d" y="11" fill="%s" font-size="12">参与人数</text>`,
		w-170, chartPale, w-155, chartMuted)
	fmt.Fprintf(&b, `<rect x="%d" y="2" width="10" height="10" rx="2" fill="%s"/><text x="%d" y="11" fill="%s" font-size="12">买家</text>`,
		w-80, chartGreen, w-65, chartMuted)
	return svgDoc(w, h, "裂变传播", b.String())
}

func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}

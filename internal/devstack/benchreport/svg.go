package benchreport

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// The chart's geometry: two panels side by side, throughput bars on the left and
// latency distributions on the right.
const (
	chartW, chartH = 960, 420
	plotTop        = 60
	plotBottom     = 340 // the x axis
	barsLeft       = 80
	barsRight      = 450
	latLeft        = 570
	latRight       = 940
)

// palette colours the systems in order; the ceilings come first and are grey.
var palette = map[bool][]string{
	true:  {"#9e9e9e", "#616161", "#424242"},
	false: {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"},
}

// SVG draws the report: rows/s per system as bars, and the latency of each
// pipeline at each rate as a range from p50 to p99 with a whisker to the max, on a
// log scale.
func (r *Report) SVG() []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	text(&sb, chartW/2, 22, "middle", 15, fmt.Sprintf("streampipe bench, %s — %s", r.Date.UTC().Format("2006-01-02"), r.Machine))
	colours := r.colours()
	r.bars(&sb, colours)
	r.latencies(&sb, colours)
	sb.WriteString("</svg>\n")
	return []byte(sb.String())
}

// colours assigns each system its colour.
func (r *Report) colours() map[string]string {
	out := map[string]string{}
	n := map[bool]int{}
	for _, s := range r.Systems {
		p := palette[s.Ceiling]
		out[s.Name] = p[n[s.Ceiling]%len(p)]
		n[s.Ceiling]++
	}
	return out
}

// bars draws the left panel: rows/s of each system.
func (r *Report) bars(sb *strings.Builder, colours map[string]string) {
	text(sb, (barsLeft+barsRight)/2, plotTop-16, "middle", 13, fmt.Sprintf("rows/s, drain of %d records", r.Records))
	top := 0.0
	for _, s := range r.Systems {
		top = math.Max(top, s.RowsPerS)
	}
	top = niceCeil(top)
	y := func(v float64) float64 { return plotBottom - v/top*(plotBottom-plotTop) }
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		line(sb, barsLeft, y(v), barsRight, y(v), "#e0e0e0")
		text(sb, barsLeft-6, int(y(v))+4, "end", 11, fmt.Sprintf("%gk", v/1000))
	}
	slot := float64(barsRight-barsLeft) / float64(max(len(r.Systems), 1))
	for i, s := range r.Systems {
		x := barsLeft + slot*float64(i) + slot*0.15
		w := slot * 0.7
		label(sb, x+w/2, s.Name, s.Setting)
		if s.Missing != "" {
			text(sb, int(x+w/2), plotBottom-8, "middle", 11, "n/a")
			continue
		}
		fmt.Fprintf(sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %.0f rows/s</title></rect>`+"\n",
			x, y(s.RowsPerS), w, plotBottom-y(s.RowsPerS), colours[s.Name], html.EscapeString(s.Name), s.RowsPerS)
		text(sb, int(x+w/2), int(y(s.RowsPerS))-5, "middle", 11, fmt.Sprintf("%.0f", s.RowsPerS))
	}
	line(sb, barsLeft, plotBottom, barsRight, plotBottom, "#000")
}

// series is one latency distribution: a system at a rate.
type series struct {
	system *System
	rate   int
	l      *Latency
}

// latencies draws the right panel: for each system and rate, a bar from p50 to p99
// and a whisker from p99 to the max, on a log scale in milliseconds.
func (r *Report) latencies(sb *strings.Builder, colours map[string]string) {
	text(sb, (latLeft+latRight)/2, plotTop-16, "middle", 13, "produce → row readable, ms (log): p50 to p99, max")
	var all []series
	hi := time.Millisecond
	for _, rate := range r.Rates { // the systems side by side at each rate
		for i := range r.Systems {
			s := &r.Systems[i]
			if l := s.Latency[rate]; s.Missing == "" && l != nil && len(l.Samples) > 0 {
				all = append(all, series{s, rate, l})
				hi = max(hi, l.Quantile(1))
			}
		}
	}
	decades := max(1, int(math.Ceil(math.Log10(float64(hi)/float64(time.Millisecond)))))
	y := func(d time.Duration) float64 {
		msf := math.Max(float64(d)/float64(time.Millisecond), 1)
		return plotBottom - math.Log10(msf)/float64(decades)*(plotBottom-plotTop)
	}
	for k := 0; k <= decades; k++ {
		d := time.Duration(math.Pow10(k)) * time.Millisecond
		line(sb, latLeft, y(d), latRight, y(d), "#e0e0e0")
		text(sb, latLeft-6, int(y(d))+4, "end", 11, fmt.Sprintf("%d", d.Milliseconds()))
	}
	if len(all) == 0 {
		text(sb, (latLeft+latRight)/2, (plotTop+plotBottom)/2, "middle", 12, "no latency measured")
	}
	slot := float64(latRight-latLeft) / float64(max(len(all), 1))
	for i, se := range all {
		x := latLeft + slot*float64(i) + slot*0.3
		w := slot * 0.4
		p50, p99, mx := se.l.Quantile(0.5), se.l.Quantile(0.99), se.l.Quantile(1)
		cx := x + w/2
		line(sb, cx, y(p99), cx, y(mx), colours[se.system.Name])
		line(sb, cx-w/4, y(mx), cx+w/4, y(mx), colours[se.system.Name])
		fmt.Fprintf(sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s at %d/s: p50 %s, p99 %s, max %s</title></rect>`+"\n",
			x, y(p99), w, math.Max(y(p50)-y(p99), 1), colours[se.system.Name], html.EscapeString(se.system.Name), se.rate, ms(p50), ms(p99), ms(mx))
		line(sb, x, y(p50), x+w, y(p50), "#000")
		text(sb, int(x+w)+3, int(y(p99))+4, "start", 10, fmt.Sprintf("%d", p99.Milliseconds()))
		label(sb, cx, se.system.Name, fmt.Sprintf("%d/s", se.rate))
	}
	line(sb, latLeft, plotBottom, latRight, plotBottom, "#000")
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for v ≤ 0).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow10(int(math.Floor(math.Log10(v))))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// label writes a two-line label under the x axis.
func label(sb *strings.Builder, x float64, first, second string) {
	text(sb, int(x), plotBottom+18, "middle", 11, first)
	text(sb, int(x), plotBottom+33, "middle", 10, second)
}

func text(sb *strings.Builder, x, y int, anchor string, size int, s string) {
	fmt.Fprintf(sb, `<text x="%d" y="%d" text-anchor="%s" font-size="%d">%s</text>`+"\n", x, y, anchor, size, html.EscapeString(s))
}

func line(sb *strings.Builder, x1, y1, x2, y2 float64, colour string) {
	fmt.Fprintf(sb, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x1, y1, x2, y2, colour)
}

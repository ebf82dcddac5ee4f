package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// bar is one horizontal bar of a plot.
type bar struct {
	group, label string
	value        float64
	lo, hi       float64 // the range over runs
}

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

func installPlot(r *Results) string {
	var bars []bar
	for _, w := range r.Workloads() {
		for _, c := range r.Contenders {
			m := r.Find(c.Name, "install", w)
			if m == nil {
				continue
			}

			s := Summarize(m.Samples, func(s Sample) float64 { return float64(w.Routes) / s.Seconds })
			if s.N > 0 {
				bars = append(bars, bar{group: w.String(), label: c.Name, value: s.Median, lo: s.Min, hi: s.Max})
			}
		}
	}

	return barPlot("Install rate (routes/s, log scale; median, whiskers min–max)", bars, r.Contenders, FormatRate)
}

func failoverPlot(r *Results) string {
	var bars []bar
	for _, w := range r.Workloads() {
		for _, mode := range r.Compat {
			sc := fmt.Sprintf("failover-compat%d", mode)
			for _, c := range r.Contenders {
				m := r.Find(c.Name, sc, w)
				if m == nil || m.Skipped != "" {
					continue
				}

				s := Summarize(m.Samples, func(s Sample) float64 { return s.Seconds })
				if s.N > 0 {
					bars = append(bars, bar{group: fmt.Sprintf("%s, compat %d", w, mode), label: c.Name, value: s.Median, lo: s.Min, hi: s.Max})
				}
			}
		}
	}

	return barPlot("Failover time (log scale; median, whiskers min–max)", bars, r.Contenders, durationText)
}

// durationText prints seconds as 120µs, 3.4ms or 1.25s.
func durationText(v float64) string {
	switch {
	case v < 1e-3:
		return fmt.Sprintf("%.0fµs", v*1e6)
	case v < 1:
		return fmt.Sprintf("%.3gms", v*1e3)
	}

	return fmt.Sprintf("%.3gs", v)
}

// FormatRate prints a rate as 12.3k or 1.23M.
func FormatRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	}

	return fmt.Sprintf("%.0f", v)
}

// barPlot draws grouped horizontal bars on a logarithmic axis.
func barPlot(title string, bars []bar, contenders []ContenderInfo, format func(float64) string) string {
	const (
		left, right, top, rowH, gap, width = 260, 120, 40, 16, 10, 900
	)

	colour := map[string]string{}
	for i, c := range contenders {
		colour[c.Name] = palette[i%len(palette)]
	}

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, b := range bars {
		lo, hi = math.Min(lo, math.Max(b.lo, 1e-9)), math.Max(hi, b.hi)
	}

	if len(bars) == 0 {
		lo, hi = 1, 10
	}

	lmin, lmax := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if lmax <= lmin {
		lmax = lmin + 1
	}

	x := func(v float64) float64 {
		return left + (math.Log10(math.Max(v, 1e-9))-lmin)/(lmax-lmin)*(width-left-right)
	}

	var body strings.Builder
	y := top
	prev := ""
	for _, b := range bars {
		if b.group != prev {
			if prev != "" {
				y += gap
			}

			fmt.Fprintf(&body, `<text x="4" y="%d" font-weight="bold">%s</text>`+"\n", y+12, html.EscapeString(b.group))
			y += rowH + 2
			prev = b.group
		}

		fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+12, html.EscapeString(b.label))
		fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y+2, math.Max(x(b.value)-left, 1), rowH-4, colour[b.label])
		fmt.Fprintf(&body, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="black"/>`+"\n", x(b.lo), x(b.hi), y+rowH/2, y+rowH/2)
		fmt.Fprintf(&body, `<text x="%.1f" y="%d">%s</text>`+"\n", math.Max(x(b.value), x(b.hi))+4, y+12, html.EscapeString(format(b.value)))
		y += rowH
	}

	height := y + 40
	var axis strings.Builder
	for e := lmin; e <= lmax; e++ {
		v := math.Pow(10, e)
		fmt.Fprintf(&axis, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ccc"/>`+"\n", x(v), x(v), top-6, y)
		fmt.Fprintf(&axis, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(v), y+16, html.EscapeString(format(v)))
	}

	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">
<rect width="100%%" height="100%%" fill="white"/>
<text x="4" y="18" font-size="14">%s</text>
%s%s</svg>
`, width, height, html.EscapeString(title), axis.String(), body.String())
}

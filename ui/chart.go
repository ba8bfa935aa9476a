package ui

import (
	"fmt"
	"html/template"
	"strings"
)

// The charts are inline SVG drawn here, so that pages need no script and
// no assets. Colours come from classes in style.css. Every shape's numbers
// come from counts; every text goes through template.HTMLEscapeString.

// plot is the frame of one small chart: a viewBox and the area inside the
// axes.
type plot struct {
	w, h                     float64
	left, right, top, bottom float64
	b                        strings.Builder
}

func newPlot(label string) *plot {
	p := &plot{w: 320, h: 140, left: 40, right: 8, top: 10, bottom: 22}
	fmt.Fprintf(&p.b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s"><title>%s</title>`,
		p.w, p.h, template.HTMLEscapeString(label), template.HTMLEscapeString(label))
	return p
}

func (p *plot) plotW() float64 { return p.w - p.left - p.right }
func (p *plot) plotH() float64 { return p.h - p.top - p.bottom }

// x returns the left edge of hour slot i of n.
func (p *plot) x(i, n int) float64 { return p.left + p.plotW()*float64(i)/float64(n) }

// y maps v in [0, max] to the plot's height.
func (p *plot) y(v, max float64) float64 { return p.top + p.plotH()*(1-v/max) }

// yAxis draws horizontal grid lines with labels at 0, max/2 and max.
func (p *plot) yAxis(max float64, label func(float64) string) {
	for _, v := range []float64{0, max / 2, max} {
		y := p.y(v, max)
		fmt.Fprintf(&p.b, `<line class="grid" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/>`, p.left, p.w-p.right, y, y)
		fmt.Fprintf(&p.b, `<text class="tick" x="%g" y="%.1f" text-anchor="end">%s</text>`, p.left-6, y+3.5,
			template.HTMLEscapeString(label(v)))
	}
}

// xAxis labels every sixth hour, and the end of the last one.
func (p *plot) xAxis(hours []hourStat) {
	n := len(hours)
	for i := 0; i < n; i += 6 {
		fmt.Fprintf(&p.b, `<text class="tick" x="%.1f" y="%g" text-anchor="start">%s</text>`, p.x(i, n), p.h-6,
			hours[i].Start.Format("15:04"))
	}
	fmt.Fprintf(&p.b, `<text class="tick" x="%g" y="%g" text-anchor="end">now</text>`, p.w-p.right, p.h-6)
}

func (p *plot) empty(msg string) {
	fmt.Fprintf(&p.b, `<text class="empty" x="%g" y="%g" text-anchor="middle">%s</text>`,
		p.left+p.plotW()/2, p.top+p.plotH()/2, template.HTMLEscapeString(msg))
}

func (p *plot) html() template.HTML {
	p.b.WriteString(`</svg>`)
	return template.HTML(p.b.String()) // built from numbers and escaped text only
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, at least min.
func niceCeil(v, min float64) float64 {
	if v < min {
		v = min
	}
	step := 1.0
	for step*10 <= v {
		step *= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*step >= v {
			return m * step
		}
	}
	return 10 * step
}

func hourRange(s hourStat) string {
	return s.Start.Format("15:04") + "–" + s.Start.Add(59*60e9).Format("15:04") + " UTC"
}

// DeliveriesChart draws deliveries per hour, stacked by status.
func (s *stats) DeliveriesChart() template.HTML {
	p := newPlot(fmt.Sprintf("Deliveries per hour over the last 24 hours: %d in all, %d succeeded, %d failed, %d pending",
		s.Total(), s.Succeeded, s.Failed, s.Pending))
	most := 0
	for _, hs := range s.Hours {
		most = max(most, hs.Total())
	}
	top := niceCeil(float64(most), 2)
	p.yAxis(top, func(v float64) string { return fmt.Sprintf("%g", v) })
	n := len(s.Hours)
	bw := p.plotW() / float64(n) * 0.72
	for i, hs := range s.Hours {
		if hs.Total() == 0 {
			continue
		}
		x := p.x(i, n) + (p.plotW()/float64(n)-bw)/2
		fmt.Fprintf(&p.b, `<g><title>%s: %d succeeded, %d failed, %d pending</title>`,
			hourRange(hs), hs.Succeeded, hs.Failed, hs.Pending)
		base := 0
		for _, part := range []struct {
			n     int
			class string
		}{{hs.Succeeded, "ok"}, {hs.Failed, "bad"}, {hs.Pending, "pend"}} {
			if part.n == 0 {
				continue
			}
			y0, y1 := p.y(float64(base), top), p.y(float64(base+part.n), top)
			fmt.Fprintf(&p.b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="1"/>`, part.class, x, y1, bw, y0-y1)
			base += part.n
		}
		p.b.WriteString(`</g>`)
	}
	if most == 0 {
		p.empty("No deliveries in the last 24 hours")
	}
	p.xAxis(s.Hours)
	return p.html()
}

// RateChart draws the success rate of each hour's ended deliveries.
func (s *stats) RateChart() template.HTML {
	label := "Success rate per hour over the last 24 hours: no delivery has ended"
	if r, ok := s.Rate(); ok {
		label = fmt.Sprintf("Success rate per hour over the last 24 hours: %.1f%% overall", r)
	}
	p := newPlot(label)
	p.yAxis(100, func(v float64) string { return fmt.Sprintf("%g%%", v) })
	n := len(s.Hours)
	var line []string
	any := false
	flush := func() {
		if len(line) > 1 {
			fmt.Fprintf(&p.b, `<polyline class="line" points="%s"/>`, strings.Join(line, " "))
		}
		line = line[:0]
	}
	for i, hs := range s.Hours {
		r, ok := hs.Rate()
		if !ok {
			flush()
			continue
		}
		any = true
		cx, cy := p.x(i, n)+p.plotW()/float64(n)/2, p.y(r, 100)
		line = append(line, fmt.Sprintf("%.1f,%.1f", cx, cy))
		class := "dot"
		if r < 100 {
			class = "dot bad"
		}
		fmt.Fprintf(&p.b, `<circle class="%s" cx="%.1f" cy="%.1f" r="2.6"><title>%s: %.0f%% of %d succeeded</title></circle>`,
			class, cx, cy, hourRange(hs), r, hs.Succeeded+hs.Failed)
	}
	flush()
	if !any {
		p.empty("No ended deliveries yet")
	}
	p.xAxis(s.Hours)
	return p.html()
}

// LatencyChart draws each hour's attempt latency: the median as a dot,
// a line up to the slowest.
func (s *stats) LatencyChart() template.HTML {
	label := "Attempt latency per hour over the last 24 hours: no attempts"
	if s.Samples > 0 {
		label = fmt.Sprintf("Attempt latency per hour over the last 24 hours: median %s, 95th percentile %s, of %d attempts",
			formatMS(s.P50), formatMS(s.P95), s.Samples)
	}
	p := newPlot(label)
	var most int64
	for _, hs := range s.Hours {
		most = max(most, hs.LatencyMax)
	}
	top := niceCeil(float64(most), 10)
	p.yAxis(top, func(v float64) string { return formatMS(int64(v)) })
	n := len(s.Hours)
	for i, hs := range s.Hours {
		if !hs.HasLatency {
			continue
		}
		cx := p.x(i, n) + p.plotW()/float64(n)/2
		fmt.Fprintf(&p.b, `<g><title>%s: median %s, slowest %s, %d attempts</title>`,
			hourRange(hs), formatMS(hs.LatencyP50), formatMS(hs.LatencyMax), len(hs.Latencies))
		fmt.Fprintf(&p.b, `<line class="range" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`,
			cx, cx, p.y(float64(hs.LatencyP50), top), p.y(float64(hs.LatencyMax), top))
		fmt.Fprintf(&p.b, `<circle class="dot" cx="%.1f" cy="%.1f" r="2.6"/></g>`, cx, p.y(float64(hs.LatencyP50), top))
	}
	if s.Samples == 0 {
		p.empty("No attempts in the last 24 hours")
	}
	p.xAxis(s.Hours)
	return p.html()
}

// Sparkline draws deliveries per hour as tiny bars, for the pathway page.
func (s *stats) Sparkline() template.HTML {
	const w, h, n = 96.0, 24.0, statsHours
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %g %g" width="%g" height="%g" aria-hidden="true">`, w, h, w, h)
	most := 0
	for _, hs := range s.Hours {
		most = max(most, hs.Total())
	}
	fmt.Fprintf(&b, `<line class="grid" x1="0" x2="%g" y1="%g" y2="%g"/>`, w, h-0.5, h-0.5)
	for i, hs := range s.Hours {
		if hs.Total() == 0 {
			continue
		}
		bh := max(2, (h-2)*float64(hs.Total())/float64(most))
		class := "ok"
		if hs.Failed > 0 {
			class = "bad"
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, class, w*float64(i)/n+0.5, h-bh, w/n-1, bh)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers only
}

// formatMS shows a latency in ms, or seconds from 10 s up.
func formatMS(ms int64) string {
	if ms >= 10000 {
		return fmt.Sprintf("%.0f s", float64(ms)/1000)
	}
	if ms >= 1000 {
		return fmt.Sprintf("%.1f s", float64(ms)/1000)
	}
	return fmt.Sprintf("%d ms", ms)
}

// RateText is the window's success rate for a headline: "97.5%", or "—".
func (s *stats) RateText() string {
	r, ok := s.Rate()
	if !ok {
		return "—"
	}
	if r == 100 || r == 0 {
		return fmt.Sprintf("%.0f%%", r)
	}
	return fmt.Sprintf("%.1f%%", r)
}

// P50Text is the window's median attempt latency for a headline.
func (s *stats) P50Text() string {
	if s.Samples == 0 {
		return "—"
	}
	return formatMS(s.P50)
}

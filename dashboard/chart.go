package dashboard

import (
	"fmt"
	"strings"
	"time"

	"github.com/labhooks/labhooks"
)

// The health charts are inline SVG drawn here, on the server: no script,
// no library, nothing fetched.

// chart is one small chart of a series: bars (Bars, with Parts drawn over
// them, such as the failed share of the attempts), or an area (Area).
type chart struct {
	ID, Title string
	// Note sums the chart up in words: the total or the latest value.
	Note string
	// Label describes the chart to screen readers.
	Label  string
	Bars   []chartBar
	Parts  []chartBar
	Area   string // polygon points
	Line   string // polyline points, the area's top
	Max    int
	From   string // the first bucket's start, and the last's end
	To     string
	Bucket string // one bucket's width, in words
}

// chartBar is one bar: its box in the chart's viewBox, and what it says on
// hover.
type chartBar struct {
	X, Y, W, H string
	Title      string
}

// Chart geometry, in viewBox units; the SVG stretches to the card.
const (
	chartW = 600
	chartH = 80
)

// chartWindow is the charts of one span of time on the health page.
type chartWindow struct {
	ID, Title string
	Charts    []chart
}

// healthCharts draws the health page's charts of one span.
func healthCharts(id, title string, series []labhooks.HealthBucket, step time.Duration) chartWindow {
	created, attempts, failed, depth := make([]int, len(series)), make([]int, len(series)), make([]int, len(series)), make([]int, len(series))
	totalCreated, totalAttempts, totalFailed := 0, 0, 0
	for i, b := range series {
		created[i], attempts[i], failed[i], depth[i] = b.Created, b.Attempts, b.FailedAttempts, b.QueueDepth
		totalCreated += b.Created
		totalAttempts += b.Attempts
		totalFailed += b.FailedAttempts
	}
	last := 0
	if len(depth) > 0 {
		last = depth[len(depth)-1]
	}
	return chartWindow{ID: id, Title: title, Charts: []chart{
		barChart(id+"-deliveries", "Deliveries", fmt.Sprintf("%d created", totalCreated), series, step, created, nil, "created"),
		barChart(id+"-failures", "Failures", fmt.Sprintf("%d of %d attempts failed", totalFailed, totalAttempts), series, step, attempts, failed, "attempts"),
		areaChart(id+"-queue", "Queue depth", fmt.Sprintf("%d pending at the end", last), series, step, depth),
	}}
}

// barChart draws values as bars, and parts, if any, over them in the
// failure colour.
func barChart(id, title, note string, series []labhooks.HealthBucket, step time.Duration, values, parts []int, unit string) chart {
	c := newChart(id, title, note, series, step, values)
	n := len(values)
	if n == 0 || c.Max == 0 {
		return c
	}
	w := float64(chartW) / float64(n)
	gap := min(w*0.15, 2)
	box := func(i, v int, title string) chartBar {
		h := float64(v) / float64(c.Max) * chartH
		return chartBar{X: num(float64(i)*w + gap/2), Y: num(chartH - h), W: num(w - gap), H: num(h), Title: title}
	}
	for i, v := range values {
		if v == 0 {
			continue
		}
		label := fmt.Sprintf("%s: %d %s", bucketLabel(series[i].Start, step), v, unit)
		if parts != nil {
			label += fmt.Sprintf(", %d failed", parts[i])
		}
		c.Bars = append(c.Bars, box(i, v, label))
		if parts != nil && parts[i] > 0 {
			c.Parts = append(c.Parts, box(i, parts[i], label))
		}
	}
	return c
}

// areaChart draws values as a filled line, each at its bucket's end.
func areaChart(id, title, note string, series []labhooks.HealthBucket, step time.Duration, values []int) chart {
	c := newChart(id, title, note, series, step, values)
	n := len(values)
	if n == 0 {
		return c
	}
	scale := 1.0
	if c.Max > 0 {
		scale = chartH / float64(c.Max)
	}
	var pts []string
	for i, v := range values {
		x := float64(i+1) / float64(n) * chartW
		if i == 0 {
			pts = append(pts, num(0)+","+num(chartH-float64(v)*scale))
		}
		pts = append(pts, num(x)+","+num(chartH-float64(v)*scale))
	}
	c.Line = strings.Join(pts, " ")
	c.Area = num(0) + "," + num(chartH) + " " + c.Line + " " + num(chartW) + "," + num(chartH)
	return c
}

func newChart(id, title, note string, series []labhooks.HealthBucket, step time.Duration, values []int) chart {
	c := chart{ID: id, Title: title, Note: note, Bucket: roughly(step)}
	for _, v := range values {
		c.Max = max(c.Max, v)
	}
	if len(series) > 0 {
		from, to := series[0].Start.UTC(), series[len(series)-1].Start.Add(step).UTC()
		c.From, c.To = from.Format("15:04"), to.Format("15:04 UTC")
		c.Label = fmt.Sprintf("%s from %s to %s, per %s: %s; the most in one %s: %d",
			title, from.Format("Jan 2 15:04"), to.Format("Jan 2 15:04 UTC"), c.Bucket, note, c.Bucket, c.Max)
	}
	return c
}

// bucketLabel names a bucket by its span, for hover titles.
func bucketLabel(start time.Time, step time.Duration) string {
	return start.UTC().Format("15:04") + "–" + start.Add(step).UTC().Format("15:04")
}

func num(f float64) string { return fmt.Sprintf("%.1f", f) }

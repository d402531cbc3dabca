// Package chart draws requests per second per instance over time, so a
// reader of the README sees a rolling reload hand over port by port.
package chart

import (
	"fmt"
	"image/color"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Hit is one request as nginx logged it: when it ended (seconds since
// some start) and which instance served it.
type Hit struct {
	At       float64
	Instance string
}

// Mark is a labelled moment, such as the start and end of a reload.
type Mark struct {
	At    float64
	Label string
}

// Rates buckets hits per instance into windows of width seconds and
// returns requests per second for each instance, every instance over the
// same windows (a window with none of its requests is a 0, which is the
// point: it shows when an instance stopped serving).
func Rates(hits []Hit, width float64) map[string]plotter.XYs {
	if len(hits) == 0 {
		return nil
	}
	end := 0.0
	counts := map[string]map[int]int{}
	for _, h := range hits {
		if counts[h.Instance] == nil {
			counts[h.Instance] = map[int]int{}
		}
		counts[h.Instance][int(h.At/width)]++
		end = max(end, h.At)
	}
	n := int(end/width) + 1
	out := map[string]plotter.XYs{}
	for inst, c := range counts {
		xy := make(plotter.XYs, n)
		for i := range n {
			xy[i].X = float64(i) * width
			xy[i].Y = float64(c[i]) / width
		}
		out[inst] = xy
	}
	return out
}

// Draw writes the chart to path; the extension (.png, .svg) picks the
// format.
func Draw(path, title string, rates map[string]plotter.XYs, marks []Mark) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = "requests per second"
	p.Legend.Top = true
	names := make([]string, 0, len(rates))
	for name := range rates {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		line, err := plotter.NewLine(rates[name])
		if err != nil {
			return fmt.Errorf("chart %s: %w", name, err)
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.2)
		p.Add(line)
		p.Legend.Add(name, line)
	}
	top := p.Y.Max
	for _, m := range marks {
		mark, err := plotter.NewLine(plotter.XYs{{X: m.At, Y: 0}, {X: m.At, Y: top}})
		if err != nil {
			return err
		}
		mark.Color = color.Gray{Y: 120}
		mark.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(mark)
		label, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: m.At, Y: top}}, Labels: []string{m.Label}})
		if err != nil {
			return err
		}
		label.Offset = vg.Point{X: vg.Points(2), Y: vg.Points(-10)}
		p.Add(label)
	}
	p.Y.Min = 0
	if err := p.Save(9*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("save chart %s: %w", path, err)
	}
	return nil
}

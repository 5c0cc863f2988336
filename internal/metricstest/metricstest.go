// Package metricstest reads metrics back in tests, as a Prometheus scrape sees them.
package metricstest

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// Series gathers the metric family name from g and returns its series: each one's
// labels, written name=value and joined by commas in the order of their names, with
// its value. A histogram's value is its count of observations. A family with no series
// gives an empty map.
func Series(t testing.TB, g prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for labels, m := range family(t, g, name) {
		switch {
		case m.Counter != nil:
			out[labels] = m.GetCounter().GetValue()
		case m.Gauge != nil:
			out[labels] = m.GetGauge().GetValue()
		case m.Histogram != nil:
			out[labels] = float64(m.GetHistogram().GetSampleCount())
		default:
			t.Fatalf("%s: a type this helper does not read", name)
		}
	}
	return out
}

// Histogram is a histogram series' count of observations and their sum.
type Histogram struct {
	Count uint64
	Sum   float64
}

// Histograms is Series for a histogram family, with each series' sum beside its count.
func Histograms(t testing.TB, g prometheus.Gatherer, name string) map[string]Histogram {
	t.Helper()
	out := map[string]Histogram{}
	for labels, m := range family(t, g, name) {
		out[labels] = Histogram{m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()}
	}
	return out
}

// family gathers the metric family name from g: its series by their labels, as Series
// writes them.
func family(t testing.TB, g prometheus.Gatherer, name string) map[string]*dto.Metric {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	out := map[string]*dto.Metric{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			slices.Sort(labels)
			out[strings.Join(labels, ",")] = m
		}
	}
	return out
}

// Lint fails t for every metric of g that breaks Prometheus's naming conventions.
func Lint(t testing.TB, g prometheus.Gatherer) {
	t.Helper()
	problems, err := testutil.GatherAndLint(g)
	if err != nil {
		t.Fatalf("linting metrics: %v", err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}

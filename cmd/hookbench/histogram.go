package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in fixed log-linear buckets: exact below 64 ns, then 64
// buckets per power of two, so any value is known to within 1/64 (1.6%). Recording is
// one atomic add, safe from any number of goroutines, and nothing is allocated after
// construction; the buckets cover every non-negative int64.
type histogram struct {
	buckets [histBuckets]atomic.Uint64
	max     atomic.Int64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits                 // buckets per power of two
	histBuckets = (63 - histSubBits + 1) * histSub // up to 1<<63 - 1
)

// Record adds one duration; a negative one (clocks stepped back) counts as zero.
func (h *histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.buckets[bucketOf(v)].Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count is how many durations were recorded. It adds up the buckets rather than keep
// a count of its own, which every Record would contend for.
func (h *histogram) Count() uint64 {
	var n uint64
	for i := range h.buckets {
		n += h.buckets[i].Load()
	}
	return n
}

// Max is the largest duration recorded, exactly.
func (h *histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the duration below or at which a fraction q (0 to 1) of the recorded
// ones fall: the top of the bucket holding it, never more than Max. Zero when empty.
func (h *histogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketTop(i)), h.Max())
		}
	}
	return h.Max()
}

// bucketOf maps a value to its bucket: values below histSub have a bucket each; above,
// a value's bucket is its power of two and its next histSubBits bits.
func bucketOf(v int64) int {
	u := uint64(v)
	if u < histSub {
		return int(u)
	}
	exp := bits.Len64(u) - 1 // exp >= histSubBits
	shift := exp - histSubBits
	sub := int(u>>shift) & (histSub - 1)
	return (shift+1)*histSub + sub
}

// bucketTop is the largest value that falls in bucket i.
func bucketTop(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	shift := i/histSub - 1
	sub := uint64(i % histSub)
	lo := (histSub + sub) << shift
	return int64(lo + (1 << shift) - 1)
}

// latencySummary is what a report shows of a histogram.
type latencySummary struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func (h *histogram) Summary() latencySummary {
	return latencySummary{
		Count: h.Count(),
		P50:   millis(h.Quantile(0.50)),
		P90:   millis(h.Quantile(0.90)),
		P99:   millis(h.Quantile(0.99)),
		Max:   millis(h.Max()),
	}
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

package main

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ { // 1ms to 1000ms, once each
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0, time.Millisecond},
		{0.5, 500 * time.Millisecond},
		{0.9, 900 * time.Millisecond},
		{0.99, 990 * time.Millisecond},
		{1, 1000 * time.Millisecond},
	} {
		got := h.Quantile(tc.q)
		// The answer is the top of the bucket holding the value: at or above it, by
		// less than a bucket's width (1/64 of the value).
		if got < tc.want || float64(got-tc.want) > float64(tc.want)/histSub {
			t.Errorf("Quantile(%g) = %s, want %s to %s", tc.q, got, tc.want, tc.want+tc.want/histSub)
		}
	}
	if h.Count() != 1000 || h.Max() != time.Second {
		t.Errorf("Count %d, Max %s; want 1000, 1s", h.Count(), h.Max())
	}
	s := h.Summary()
	if s.Count != 1000 || s.Max != 1000 || s.P50 < 500 || s.P50 > 508 {
		t.Errorf("Summary %+v", s)
	}
}

func TestHistogramEdges(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		var h histogram
		if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Count() != 0 {
			t.Errorf("empty histogram: p50 %s, max %s, count %d", h.Quantile(0.5), h.Max(), h.Count())
		}
	})
	t.Run("one value is every quantile, exactly", func(t *testing.T) {
		var h histogram
		h.Record(1234567 * time.Nanosecond)
		for _, q := range []float64{0, 0.5, 0.99, 1} {
			if got := h.Quantile(q); got != 1234567 {
				t.Errorf("Quantile(%g) = %d, want 1234567 (capped by max)", q, got)
			}
		}
	})
	t.Run("negative counts as zero", func(t *testing.T) {
		var h histogram
		h.Record(-time.Second)
		if h.Count() != 1 || h.Quantile(1) != 0 {
			t.Errorf("count %d, p100 %s", h.Count(), h.Quantile(1))
		}
	})
	t.Run("small values are exact", func(t *testing.T) {
		var h histogram
		for i := range 64 {
			h.Record(time.Duration(i))
		}
		if got := h.Quantile(0.5); got != 31 {
			t.Errorf("p50 of 0..63 = %d, want 31", got)
		}
	})
}

// TestHistogramBuckets checks the bucket arithmetic over the whole range: each value
// falls in a bucket whose top is at or above it by less than 1/64, and buckets follow
// each other without gaps.
func TestHistogramBuckets(t *testing.T) {
	for i := 1; i < histBuckets; i++ {
		if bucketOf(bucketTop(i-1)+1) != i {
			t.Fatalf("bucket %d tops at %d, but %d falls in %d", i-1, bucketTop(i-1), bucketTop(i-1)+1, bucketOf(bucketTop(i-1)+1))
		}
	}
	if bucketTop(histBuckets-1) != 1<<63-1 {
		t.Errorf("last bucket tops at %d, want the largest int64", bucketTop(histBuckets-1))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := r.Int64N(1 << r.IntN(63))
		top := bucketTop(bucketOf(v))
		if top < v || float64(top-v) > float64(v)/histSub {
			t.Fatalf("%d falls in a bucket topping at %d", v, top)
		}
	}
}

func TestHistogramConcurrent(t *testing.T) {
	var h histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(g*1000 + i))
			}
		})
	}
	wg.Wait()
	if h.Count() != 8000 || h.Max() != 7999 {
		t.Errorf("count %d, max %d; want 8000, 7999", h.Count(), h.Max())
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h histogram
	b.RunParallel(func(pb *testing.PB) {
		d := time.Millisecond
		for pb.Next() {
			h.Record(d)
			d += 997
		}
	})
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchWorkflows are four workflows like the examples': a webhook with a filter and
// two http calls, one retried; a for_each over an order's lines; a delay of a day
// between two calls; and a set step that shapes an answer.
const benchWorkflows = `
workflow "order_paid" {
  trigger "webhook" {
    path = "/orders"
  }
  filter = "event.body.total > 0"

  step "http" "find" {
    url   = "https://crm.example.com/customers"
    query = { email = "{{ event.body.email }}" }
    retry {
      attempts = 3
      initial  = "1m"
    }
  }

  step "http" "mark" {
    if     = "steps.find.body.id != nil"
    method = "PATCH"
    url    = "https://crm.example.com/customers/{{ steps.find.body.id }}"
    json   = { status = "paid", total = "{{ event.body.total }}" }
  }
}

workflow "reserve" {
  trigger "webhook" {
    path = "/reserve"
  }

  step "http" "lines" {
    for_each = "event.body.lines"
    method   = "POST"
    url      = "https://stock.example.com/reserve/{{ each.value.sku }}"
    json     = { qty = "{{ each.value.qty }}" }
  }
}

workflow "reminder" {
  trigger "webhook" {
    path = "/remind"
  }

  step "http" "first" {
    url  = "https://mail.example.com/send"
    json = { to = "{{ event.body.email }}", text = "welcome" }
  }

  step "delay" "day" {
    duration = "24h"
  }

  step "http" "second" {
    url  = "https://mail.example.com/send"
    json = { to = "{{ event.body.email }}", text = "how is it going?" }
  }
}

workflow "shape" {
  trigger "webhook" {
    path = "/shape"
  }

  step "set" "answer" {
    name  = "{{ upper(event.body.name) }}"
    total = "{{ event.body.a + event.body.b }}"
  }
}
`

// benchTest is test number i, over one of the four workflows in turn.
func benchTest(i int) string {
	switch i % 4 {
	case 0:
		return fmt.Sprintf(`
test "paid order %[1]d" {
  workflow = "order_paid"
  event {
    body = { email = "c%[1]d@example.com", total = %[1]d }
  }
  mock "find" {
    responses = [{ status = 503 }, { status = 200, json = { id = "c%[1]d" } }]
  }
  mock "mark" {
    status = 200
  }
  expect "find" {
    count = 2
  }
  expect "mark" {
    method = "PATCH"
    url    = "https://crm.example.com/customers/c%[1]d"
    json   = { status = "paid", total = %[1]d }
  }
}
`, i+1)
	case 1:
		return fmt.Sprintf(`
test "reserved lines %[1]d" {
  workflow = "reserve"
  event {
    body = { lines = [{ sku = "a%[1]d", qty = 1 }, { sku = "b%[1]d", qty = 2 }, { sku = "c%[1]d", qty = 3 }] }
  }
  mock "lines" {
    json = { ok = true }
  }
  expect "lines[1]" {
    url  = "https://stock.example.com/reserve/b%[1]d"
    json = { qty = 2 }
  }
}
`, i)
	case 2:
		return fmt.Sprintf(`
test "a reminder a day later %[1]d" {
  workflow = "reminder"
  event {
    body = { email = "u%[1]d@example.com" }
  }
  mock "first" {
    status = 202
  }
  mock "second" {
    status = 202
  }
  expect "second" {
    json = { to = "u%[1]d@example.com", text = "how is it going?" }
  }
}
`, i)
	default:
		return fmt.Sprintf(`
test "an answer shaped %[1]d" {
  workflow = "shape"
  event {
    body = { name = "ada%[1]d", a = %[1]d, b = 1 }
  }
  expect "answer" {
    output = { name = "ADA%[1]d", total = %[2]d }
  }
}
`, i, i+1)
	}
}

// writeBenchTests writes the four workflows and n tests over them, in ten files.
func writeBenchTests(tb testing.TB, n int) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "flows.hcl"), []byte(benchWorkflows), 0o644); err != nil {
		tb.Fatal(err)
	}
	files := make([]strings.Builder, 10)
	for i := range n {
		files[i%10].WriteString(benchTest(i))
	}
	for i := range files {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("t%d.test.hcl", i)), []byte(files[i].String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// BenchmarkWorkflowTests runs 1,000 tests over four example-like workflows through
// hookflow test's own code path (runAll, as the command calls it), with its default
// parallelism: each op is one hookflow test of the whole directory.
func BenchmarkWorkflowTests(b *testing.B) {
	const n = 1000
	dir := writeBenchTests(b, n)
	par, _ := strconv.Atoi(os.Getenv("HOOKFLOW_BENCH_PARALLEL"))
	if par == 0 {
		par = testParallel()
	}
	o := workflowTests{timeout: time.Minute, parallel: par}
	var out strings.Builder
	if err := o.runAll(context.Background(), []string{dir}, &out, io.Discard); err != nil {
		b.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), fmt.Sprintf("PASS: %d tests", n)) {
		b.Fatalf("not every test passes:\n%s", out.String())
	}
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if err := o.runAll(context.Background(), []string{dir}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tests/s")
	// The CPU time per test, of the whole process: on a shared machine, the figure that
	// does not depend on what else runs.
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(n*b.N), "cpu-µs/test")
}

// BenchmarkWorkflowTestsParallel runs 1,000 tests over four example-like workflows as
// BenchmarkWorkflowTests does, with --parallel 1, 2, 4 and 8: what running tests at
// once gains. Besides tests/s and the CPU per test it reports cores, the CPU time of
// the whole process over the wall time: how many cores the tests kept busy, which
// on a shared machine is what the others left them.
func BenchmarkWorkflowTestsParallel(b *testing.B) {
	const n = 1000
	dir := writeBenchTests(b, n)
	for _, par := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("parallel=%d", par), func(b *testing.B) {
			o := workflowTests{timeout: time.Minute, parallel: par}
			var out strings.Builder
			if err := o.runAll(context.Background(), []string{dir}, &out, io.Discard); err != nil || !strings.Contains(out.String(), fmt.Sprintf("PASS: %d tests", n)) {
				b.Fatalf("not every test passes: %v\n%s", err, out.String())
			}
			cpu := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				if err := o.runAll(context.Background(), []string{dir}, io.Discard, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			used := cpuTime() - cpu
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tests/s")
			b.ReportMetric(float64(used.Microseconds())/float64(n*b.N), "cpu-µs/test")
			b.ReportMetric(used.Seconds()/b.Elapsed().Seconds(), "cores")
		})
	}
}

// BenchmarkWorkflowTestDelay is one hookflow test of a workflow whose delay is an
// hour, and whose retry waits an hour too: on the test's clock they take no time, so
// an op is far under a second.
func BenchmarkWorkflowTestDelay(b *testing.B) {
	dir := b.TempDir()
	src := `
workflow "later" {
  step "http" "call" {
    url = "https://api.example.com/first"
    retry {
      attempts = 2
      initial  = "1h"
    }
  }
  step "delay" "hour" {
    duration = "1h"
  }
  step "http" "again" {
    url = "https://api.example.com/again"
  }
}
`
	test := `
test "an hour later" {
  workflow = "later"
  mock "call" {
    responses = [{ status = 503 }, { status = 200 }]
  }
  mock "again" {
    status = 200
  }
  expect "again" {
    count = 1
  }
}
`
	for name, data := range map[string]string{"later.hcl": src, "later.test.hcl": test} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	o := workflowTests{timeout: time.Minute, parallel: 1}
	for b.Loop() {
		var out strings.Builder
		if err := o.runAll(context.Background(), []string{dir}, &out, io.Discard); err != nil {
			b.Fatalf("%v\n%s", err, out.String())
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
)

const fanOutSrc = `
workflow "fan_out" {
  step "http" "reserve" {
    for_each     = "event.body.lines"
    max_parallel = 2
    url          = "http://127.0.0.1:9/reserve/{{ each.value.sku }}"
    json         = { qty = "{{ each.value.qty }}", line = "{{ each.key }}" }
  }
  parallel "notify" {
    step "http" "slack" {
      url  = "http://127.0.0.1:9/slack"
      json = { text = "{{ len(steps.reserve) }} lines reserved" }
    }
    step "http" "crm" {
      url = "http://127.0.0.1:9/crm"
    }
  }
}
`

// A dry run of a for_each step and a parallel block prints each item with the request
// it would send, and the block's steps by their paths; --json shows the same.
func TestRunShowsItemsAndParallelSteps(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "fan.hcl"), fanOutSrc)
	event := `{"lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}, {"sku": "c", "qty": 3}]}`
	var stdout, stderr bytes.Buffer
	args := []string{"run", "--dir", dir, "--dry-run", "--allow-net", "127.0.0.1/32", "--event", "-", "fan_out"}
	if err := run(context.Background(), args, strings.NewReader(event), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"1. reserve (http) succeeded", ", 3 items",
		"reserve[0] succeeded", "→ POST http://127.0.0.1:9/reserve/a", `"line":0,"qty":1`,
		"reserve[2] succeeded", "→ POST http://127.0.0.1:9/reserve/c",
		"2. notify (parallel) succeeded",
		"3. notify/slack (http) succeeded", `{"text":"3 lines reserved"}`,
		"4. notify/crm (http) succeeded", "run succeeded",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Each item's request is printed under that item, not under another.
	if i, j := strings.Index(out, "reserve[1] succeeded"), strings.Index(out, "/reserve/b"); i < 0 || j < i {
		t.Errorf("item 1's request is not under it:\n%s", out)
	}

	stdout.Reset()
	args = append(args[:len(args)-1], "--json", "fan_out")
	if err := run(context.Background(), args, strings.NewReader(event), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var r engine.Run
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if len(r.Steps) != 4 || r.Steps[0].ItemCount != 3 || len(r.Steps[0].Items) != 3 ||
		r.Steps[0].Items[1].Path != "reserve[1]" || r.Steps[0].Items[1].Attempts != 1 ||
		r.Steps[3].Path != "notify/crm" || r.Steps[3].Parallel != "notify" {
		t.Errorf("run %s", stdout.String())
	}
}

// runs show prints items (at most a screenful) and parallel steps by their paths.
func TestPrintRunItems(t *testing.T) {
	ms := int64(12)
	done := time.Now()
	items := make([]engine.StepRun, 25)
	for i := range items {
		items[i] = engine.StepRun{Name: "reserve", Path: "reserve[" + string(rune('a'+i)) + "]", Key: string(rune('a' + i)),
			Status: engine.StatusSucceeded, Attempts: 1, DurationMS: &ms, FinishedAt: &done}
	}
	items[3].Status, items[3].Attempts, items[3].Error = engine.StatusFailed, 3, "status 500"
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "r1", Workflow: "w", Status: engine.RunFailed},
		Steps: []engine.StepRun{
			{Name: "reserve", Path: "reserve", Kind: "http", Status: engine.StatusFailed, ItemCount: 25, Items: items},
			{Name: "notify", Path: "notify", Kind: "parallel", Status: engine.StatusPending},
			{Name: "slack", Path: "notify/slack", Kind: "http", Parallel: "notify", Status: engine.StatusPending},
		}}
	var buf bytes.Buffer
	printRun(&buf, run, false)
	out := buf.String()
	for _, want := range []string{"1. reserve (http) failed, 25 items", "reserve[d] failed in 12ms after 3 attempts",
		"error: status 500", "… 5 more items (--json shows all)", "3. notify/slack (http) pending"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "reserve[u]") {
		t.Errorf("more than 20 items printed:\n%s", out)
	}
}

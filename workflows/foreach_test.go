package workflows

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

const planSrc = `workflow "order" {
  step "call" "reserve" {
    for_each     = "event.body.items"
    max_parallel = 5
    if           = "each.value.qty > 0"
    url          = "https://x/reserve/{{ each.value.sku }}"
    json         = { qty = "{{ each.value.qty }}", line = "{{ each.key }}" }
    retry {
      attempts = 3
    }
  }
  step "set" "regions" {
    for_each = "{'us': 2, 'eu': 1}"
    region   = "{{ each.key }}"
    weight   = "{{ each.value }}"
  }
  parallel "notify" {
    step "call" "slack" {
      url  = "https://slack.example.com"
      json = { text = "{{ len(steps.reserve) }} lines, {{ steps.regions.eu.weight }}" }
    }
    step "call" "crm" {
      url = "https://crm.example.com/{{ event.body.id }}"
    }
  }
  step "call" "after" {
    url  = "https://x"
    json = { slack = "{{ steps.slack }}", crm = "{{ steps.crm }}" }
  }
}
`

func TestForEachAndParallelLoad(t *testing.T) {
	set, diags := loadString(t, planSrc)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("order")

	t.Run("nodes", func(t *testing.T) {
		var got []string
		for _, n := range wf.Nodes {
			var steps []string
			for _, s := range n.Steps {
				steps = append(steps, s.Name)
			}
			got = append(got, fmt.Sprintf("%s:%v:%s@%d", n.Name, n.Parallel, strings.Join(steps, "+"), n.DefRange.Start.Line))
		}
		want := []string{"reserve:false:reserve@2", "regions:false:regions@12", "notify:true:slack+crm@17", "after:false:after@26"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("nodes %v, want %v", got, want)
		}
	})

	t.Run("steps stay flat", func(t *testing.T) {
		var got []string
		for _, s := range wf.Steps {
			got = append(got, s.Name+"/"+s.Parallel)
		}
		if want := []string{"reserve/", "regions/", "slack/notify", "crm/notify", "after/"}; !reflect.DeepEqual(got, want) {
			t.Errorf("steps %v, want %v", got, want)
		}
		if s, i := wf.Step("crm"); s == nil || i != 3 || s.Parallel != "notify" {
			t.Errorf("Step(crm) = %v, %d", s, i)
		}
	})

	t.Run("Node by name", func(t *testing.T) {
		for name, want := range map[string]string{"reserve": "reserve", "notify": "notify", "slack": "notify", "crm": "notify", "after": "after", "nope": ""} {
			n := wf.Node(name)
			got := ""
			if n != nil {
				got = n.Name
			}
			if got != want {
				t.Errorf("Node(%q) = %q, want %q", name, got, want)
			}
		}
	})

	t.Run("step fields", func(t *testing.T) {
		reserve, _ := wf.Step("reserve")
		regions, _ := wf.Step("regions")
		after, _ := wf.Step("after")
		if reserve.ForEach == nil || reserve.ForEach.Source != "event.body.items" || reserve.MaxParallel != 5 || reserve.Retry.Attempts != 3 {
			t.Errorf("reserve: %+v", reserve)
		}
		if regions.ForEach == nil || regions.MaxParallel != DefaultMaxParallel {
			t.Errorf("regions: %+v", regions)
		}
		if after.ForEach != nil || after.MaxParallel != DefaultMaxParallel {
			t.Errorf("after: %+v", after)
		}
		// for_each and max_parallel are common to every kind, not values of a set step.
		if names := regions.Action.(*renderAction).b.Names(); !reflect.DeepEqual(names, []string{"region", "weight"}) {
			t.Errorf("set step values %v", names)
		}
	})

	t.Run("items run", func(t *testing.T) {
		reserve, _ := wf.Step("reserve")
		env := &Env{Event: map[string]any{"body": map[string]any{"items": []any{
			map[string]any{"sku": "A1", "qty": 2},
			map[string]any{"sku": "B2", "qty": 0},
		}}}}
		items, _, err := reserve.Items(env)
		if err != nil || len(items) != 2 {
			t.Fatalf("items %v, %v", items, err)
		}
		var got []string
		for _, it := range items {
			item := *env
			item.Each = it.EachValue()
			ok, err := reserve.If.Eval(&item)
			if err != nil {
				t.Fatal(err)
			}
			out, err := reserve.Action.Do(context.Background(), &Call{Env: &item, Item: &it})
			if err != nil {
				t.Fatal(err)
			}
			m := out.(map[string]any)
			got = append(got, fmt.Sprintf("%v %v %v", ok, m["url"], m["json"]))
		}
		want := []string{"true https://x/reserve/A1 map[line:0 qty:2]", "false https://x/reserve/B2 map[line:1 qty:0]"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestItems(t *testing.T) {
	step := func(t *testing.T, src string) *Step {
		t.Helper()
		e, diags := compileForEach(src, location{})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return &Step{Name: "x", ForEach: e}
	}
	many := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	manyMap := make(map[string]any, MaxItems+1)
	for i := range MaxItems + 1 {
		manyMap[fmt.Sprint(i)] = i
	}
	tests := []struct {
		name  string
		src   string
		items any    // event.body.items
		want  string // the items as key=value, or the error
	}{
		{"a list of 3", "event.body.items", []any{"a", "b", "c"}, "0=a 1=b 2=c"},
		{"an empty list", "event.body.items", []any{}, ""},
		{"a map, sorted", "event.body.items", map[string]any{"us": 2, "eu": 1, "ap": 3}, "ap=3 eu=1 us=2"},
		{"an empty map", "event.body.items", map[string]any{}, ""},
		{"a list built in expr", "1..3", nil, "0=1 1=2 2=3"},
		{"a list of strings", "split('a,b', ',')", nil, "0=a 1=b"},
		{"exactly MaxItems", "event.body.items", many(MaxItems), fmt.Sprintf("%d items", MaxItems)},
		{"nil", "event.body.items", nil, `error: for_each of step "x": event.body.items gave nil, not a list or a map (add ?? [] to run no items when it is missing)`},
		{"a string", "event.body.items", "abc", `error: for_each of step "x": event.body.items gave a string, not a list or a map`},
		{"a number", "event.body.items", 3, `error: for_each of step "x": event.body.items gave a number, not a list or a map`},
		{"too many", "event.body.items", many(MaxItems + 1), `error: for_each of step "x" gave 10001 items; at most 10000 are allowed`},
		{"too many in a map", "event.body.items", manyMap, `error: for_each of step "x" gave 10001 items; at most 10000 are allowed`},
		{"an evaluation error", "event.body.items[5]", []any{1}, `error: for_each of step "x": event.body.items[5]: `},
		{"a field of nil", "event.body.items.x.y", nil, `error: for_each of step "x": event.body.items.x.y gave nil, not a list or a map (add ?? [] to run no items when it is missing)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &Env{Event: map[string]any{"body": map[string]any{"items": tt.items}}}
			items, _, err := step(t, tt.src).Items(env)
			var got string
			switch {
			case err != nil:
				got = "error: " + err.Error()
			case len(items) > 10:
				got = fmt.Sprintf("%d items", len(items))
				for i, it := range items {
					if it.Key != i {
						t.Fatalf("item %d has key %v", i, it.Key)
					}
				}
			default:
				var parts []string
				for _, it := range items {
					parts = append(parts, fmt.Sprintf("%s=%v", it.KeyText(), it.Value))
				}
				got = strings.Join(parts, " ")
			}
			if got != tt.want && !(strings.HasSuffix(tt.want, ": ") && strings.HasPrefix(got, tt.want)) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if err == nil && items == nil && tt.want != "" {
				t.Error("nil items without an error")
			}
		})
	}

	t.Run("a step without for_each", func(t *testing.T) {
		items, _, err := (&Step{Name: "x"}).Items(&Env{})
		if items != nil || err != nil {
			t.Errorf("got %v, %v", items, err)
		}
	})
}

func TestItemKeys(t *testing.T) {
	tests := []struct {
		name string
		item *Item
		key  string // KeyText
		idem string // the Idempotency-Key of run r1, step s
	}{
		{"no item", nil, "", "r1:s"},
		{"a list item", &Item{Key: 2, Value: "x"}, "2", "r1:s:2"},
		{"the first list item", &Item{Key: 0, Value: "x"}, "0", "r1:s:0"},
		{"a map item", &Item{Key: "eu", Value: 1}, "eu", "r1:s:eu"},
		{"a map key with a colon", &Item{Key: "x:d", Value: 1}, "x:d", "r1:s:x%3Ad"},
		{"a map key with a percent sign", &Item{Key: "x%3Ad", Value: 1}, "x%3Ad", "r1:s:x%253Ad"},
		{"a map key with a newline", &Item{Key: "a\nb\x7f", Value: 1}, "a\nb\x7f", "r1:s:a%0Ab%7F"},
		{"a map key in Unicode", &Item{Key: "café", Value: 1}, "café", "r1:s:café"},
		{"an older build's item with a colon", &Item{Key: "x:d", Value: 1, Unencoded: true}, "x:d", "r1:s:x:d"},
		{"an older build's item with a percent sign", &Item{Key: "x%3Ad", Value: 1, Unencoded: true}, "x%3Ad", "r1:s:x%3Ad"},
		{"an older build's item with a newline", &Item{Key: "a:\nb", Value: 1, Unencoded: true}, "a:\nb", "r1:s:a%3A%0Ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Call{RunID: "r1", Step: "s", Item: tt.item}
			if got := c.IdempotencyKey(); got != tt.idem {
				t.Errorf("IdempotencyKey %q, want %q", got, tt.idem)
			}
			if tt.item == nil {
				return
			}
			if got := tt.item.KeyText(); got != tt.key {
				t.Errorf("KeyText %q, want %q", got, tt.key)
			}
			want := map[string]any{"key": tt.item.Key, "value": tt.item.Value}
			if got := tt.item.EachValue(); !reflect.DeepEqual(got, want) {
				t.Errorf("EachValue %v, want %v", got, want)
			}
		})
	}
}

func TestForEachVersion(t *testing.T) {
	version := func(src string) string {
		t.Helper()
		set, diags := loadString(t, src)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return set.Workflow("order").Version
	}
	base := version(planSrc)
	moved := strings.Replace(planSrc, `  }
  step "call" "after" {`, `    step "call" "after" {`, 1)
	moved = strings.Replace(moved, `    json = { slack = "{{ steps.slack }}", crm = "{{ steps.crm }}" }
  }
}`, `    json = {}
    }
  }
}`, 1)
	for name, src := range map[string]string{
		"for_each":            strings.Replace(planSrc, `"event.body.items"`, `"event.body.lines"`, 1),
		"max_parallel":        strings.Replace(planSrc, "max_parallel = 5", "max_parallel = 6", 1),
		"a parallel's name":   strings.Replace(planSrc, `parallel "notify"`, `parallel "tell"`, 1),
		"a step in parallel":  strings.Replace(planSrc, "https://crm.example.com", "https://crm2.example.com", 1),
		"a step into a block": moved,
	} {
		t.Run(name, func(t *testing.T) {
			if src == planSrc {
				t.Fatal("the change did not apply")
			}
			if version(src) == base {
				t.Error("the version did not change")
			}
		})
	}
	if version(strings.ReplaceAll(planSrc, "  ", "    ")) != base {
		t.Error("re-indenting changed the version")
	}
}

// TestForEachAndParallelDiagnostics checks each mistake is reported where it was made.
// The golden files in testdata/errors show how the main ones read.
func TestForEachAndParallelDiagnostics(t *testing.T) {
	wf := func(body string) string { return "workflow \"w\" {\n" + body + "\n}" }
	tests := []struct {
		name string
		src  string
		want []string // line:col summary, in the order reported
		says string   // in the first diagnostic's detail
	}{
		{"each in the filter", wf(`  filter = "each.value > 1"`),
			[]string{"2:13 each outside a for_each step"}, "the filter is not in a step"},
		{"each in a trigger", wf("  trigger \"hook\" {\n    path = \"/x/{{ each.key }}\"\n  }"),
			[]string{"3:19 each outside a for_each step"}, "a trigger is not in a step"},
		{"each in a workflow attribute", wf(`  description = "{{ each.key }}"`),
			[]string{"2:21 each outside a for_each step"}, "this attribute is not in a step"},
		{"each in a step without for_each", wf("  step \"call\" \"notify\" {\n    url = \"https://x/{{ each.key }}\"\n  }"),
			[]string{"3:25 each outside a for_each step"}, `step "notify" has no for_each`},
		{"each in the if of a step without for_each", wf("  step \"call\" \"a\" {\n    url = \"https://x\"\n    if  = \"each.value != nil\"\n  }"),
			[]string{"4:12 each outside a for_each step"}, `step "a" has no for_each`},
		{"each in a retry of a step without for_each", wf("  step \"call\" \"a\" {\n    url = \"https://x\"\n    retry {\n      attempts = \"{{ each.key }}\"\n    }\n  }"),
			[]string{"5:22 each outside a for_each step"}, `step "a" has no for_each`},
		{"each inside a closure", wf("  step \"call\" \"a\" {\n    url  = \"https://x\"\n    json = \"{{ filter(event.body.x, # == each.key) }}\"\n  }"),
			[]string{"4:42 each outside a for_each step"}, `step "a" has no for_each`},
		{"each in another step than the for_each one", wf("  step \"call\" \"a\" {\n    for_each = \"event.body.items\"\n    url      = \"https://x/{{ each.key }}\"\n  }\n  step \"call\" \"b\" {\n    url = \"https://x/{{ each.key }}\"\n  }"),
			[]string{"7:25 each outside a for_each step"}, `step "b" has no for_each`},
		{"each in the for_each", wf("  step \"call\" \"a\" {\n    for_each = \"each.value\"\n    url      = \"https://x\"\n  }"),
			[]string{"3:17 for_each reads each"}, "evaluated once, before there are any"},
		{"for_each written as a template", wf("  step \"call\" \"a\" {\n    for_each = \"{{ event.body.items }}\"\n    url      = \"https://x\"\n  }"),
			[]string{"3:16 for_each written as a template"}, "drop the {{ }}"},
		{"empty for_each", wf("  step \"call\" \"a\" {\n    for_each = \" \"\n    url      = \"https://x\"\n  }"),
			[]string{"3:16 Empty for_each"}, "gives a list or a map"},
		{"for_each without quotes", wf("  step \"call\" \"a\" {\n    for_each = event.body.items\n    url      = \"https://x\"\n  }"),
			[]string{"3:16 for_each must be an expression in a string"}, `for_each = "event.body.items"`},
		{"for_each as a list", wf("  step \"call\" \"a\" {\n    for_each = [\"a\", \"b\"]\n    url      = \"https://x\"\n  }"),
			[]string{"3:16 for_each must be a string"}, `Got a list`},
		{"for_each that is a number", wf("  step \"call\" \"a\" {\n    for_each = \"len(event.body.items)\"\n    url      = \"https://x\"\n  }"),
			[]string{"3:17 for_each does not give a list or a map"}, `"len(event.body.items)" gives a number`},
		{"for_each syntax error", wf("  step \"call\" \"a\" {\n    for_each = \"event.body.items[\"\n    url      = \"https://x\"\n  }"),
			[]string{"3:33 Invalid expression"}, ""},
		{"for_each reading a later step", wf("  step \"call\" \"a\" {\n    for_each = \"steps.b.body\"\n    url      = \"https://x\"\n  }\n  step \"call\" \"b\" { url = \"https://x\" }"),
			[]string{`3:23 Reference to a later step "b"`}, ""},
		{"max_parallel without for_each", wf("  step \"call\" \"a\" {\n    url          = \"https://x\"\n    max_parallel = 5\n  }"),
			[]string{"4:5 max_parallel needs for_each"}, `step "a" runs once`},
		{"max_parallel 0", wf("  step \"call\" \"a\" {\n    for_each     = \"event.body.items\"\n    max_parallel = 0\n    url          = \"https://x\"\n  }"),
			[]string{"4:20 Invalid max_parallel"}, "from 1 to 1000"},
		{"max_parallel 1001", wf("  step \"call\" \"a\" {\n    for_each     = \"event.body.items\"\n    max_parallel = 1001\n    url          = \"https://x\"\n  }"),
			[]string{"4:20 Invalid max_parallel"}, "got 1001"},
		{"max_parallel as a template", wf("  step \"call\" \"a\" {\n    for_each     = \"event.body.items\"\n    max_parallel = \"{{ each.value }}\"\n    url          = \"https://x\"\n  }"),
			[]string{"4:20 max_parallel cannot use {{ }}"}, ""},
		{"misspelt for_each", wf("  step \"call\" \"a\" {\n    for_eachh = \"event.body.items\"\n    url       = \"https://x\"\n  }"),
			[]string{"3:5 Unsupported argument"}, `Did you mean "for_each"?`},
		{"nested parallel", wf("  parallel \"outer\" {\n    step \"call\" \"a\" { url = \"https://x\" }\n    parallel \"inner\" {\n      step \"call\" \"b\" { url = \"https://x\" }\n    }\n  }\n  step \"call\" \"c\" { url = \"https://x/{{ steps.b.url }}\" }"),
			[]string{"4:5 parallel blocks do not nest"}, `Parallel "inner" is inside parallel "outer"`},
		{"empty parallel", wf("  parallel \"notify\" {\n  }"),
			[]string{`2:3 Empty parallel block "notify"`}, "put at least one step"},
		{"an attribute in a parallel", wf("  parallel \"notify\" {\n    max_parallel = 2\n    step \"call\" \"a\" { url = \"https://x\" }\n  }"),
			[]string{"3:5 Unsupported argument"}, "A parallel block holds steps only"},
		{"an unknown block in a parallel", wf("  parallel \"notify\" {\n    stp \"call\" \"a\" { url = \"https://x\" }\n  }"),
			[]string{"3:5 Unsupported block type"}, `Did you mean "step"? A parallel block holds steps only`},
		{"a trigger in a parallel", wf("  parallel \"notify\" {\n    trigger \"hook\" { path = \"/x\" }\n    step \"call\" \"a\" { url = \"https://x\" }\n  }"),
			[]string{"3:5 Unsupported block type"}, "A parallel block holds steps only"},
		{"invalid parallel name", wf("  parallel \"tell-all\" {\n    step \"call\" \"a\" { url = \"https://x\" }\n  }"),
			[]string{`2:12 Invalid parallel name "tell-all"`}, ""},
		{"duplicate parallel", wf("  parallel \"notify\" {\n    step \"call\" \"a\" { url = \"https://x\" }\n  }\n  parallel \"notify\" {\n    step \"call\" \"b\" { url = \"https://x\" }\n  }"),
			[]string{`5:12 Duplicate parallel block "notify"`}, "already defined at f1.hcl:2:3"},
		{"a parallel named as a step", wf("  step \"call\" \"notify\" { url = \"https://x\" }\n  parallel \"notify\" {\n    step \"call\" \"b\" { url = \"https://x\" }\n  }"),
			[]string{`3:12 Duplicate name "notify"`}, `A step named "notify" is already defined at f1.hcl:2:3`},
		{"a step named as a parallel", wf("  parallel \"notify\" {\n    step \"call\" \"notify\" { url = \"https://x\" }\n  }"),
			[]string{`3:17 Duplicate name "notify"`}, `A parallel block named "notify" is already defined at f1.hcl:2:3`},
		{"duplicate step in a parallel", wf("  step \"call\" \"a\" { url = \"https://x\" }\n  parallel \"notify\" {\n    step \"call\" \"a\" { url = \"https://x\" }\n  }"),
			[]string{`4:17 Duplicate step "a"`}, "already defined at f1.hcl:2:3"},
		{"a sibling", wf("  parallel \"notify\" {\n    step \"call\" \"slack\" { url = \"https://x\" }\n    step \"call\" \"crm\" { url = \"https://x/{{ steps.slack.url }}\" }\n  }"),
			[]string{`4:51 Step "crm" reads "slack", which runs beside it in parallel "notify"`}, `Read steps.slack in a step after parallel "notify"`},
		{"a later sibling in if", wf("  parallel \"notify\" {\n    step \"call\" \"slack\" {\n      url = \"https://x\"\n      if  = \"steps.crm.url != nil\"\n    }\n    step \"call\" \"crm\" { url = \"https://x\" }\n  }"),
			[]string{`5:20 Step "slack" reads "crm", which runs beside it in parallel "notify"`}, `none: parallel "notify" runs first`},
		{"the parallel's own name", wf("  parallel \"notify\" {\n    step \"call\" \"slack\" { url = \"https://x\" }\n    step \"call\" \"crm\" { url = \"https://x\" }\n  }\n  step \"call\" \"b\" { url = \"https://x/{{ steps.notify.url }}\" }"),
			[]string{`6:47 "notify" is a parallel block, not a step`}, "read its steps by their own names, steps.slack, steps.crm"},
		{"a step of a later parallel", wf("  step \"call\" \"a\" { url = \"https://x/{{ steps.slack.url }}\" }\n  parallel \"notify\" {\n    step \"call\" \"slack\" { url = \"https://x\" }\n  }"),
			[]string{`2:47 Reference to a later step "slack"`}, ""},
		{"every problem is reported", wf("  parallel \"p\" {\n    step \"call\" \"a\" {\n      url          = \"https://x/{{ each.key }}\"\n      max_parallel = 2\n    }\n  }\n  parallel \"q\" {}"),
			[]string{"5:7 max_parallel needs for_each", "4:36 each outside a for_each step", `8:3 Empty parallel block "q"`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, diags := loadString(t, tt.src)
			if set != nil || !diags.HasErrors() {
				t.Fatal("want errors, got none")
			}
			var got []string
			for _, d := range diags {
				got = append(got, fmt.Sprintf("%d:%d %s", d.Subject.Start.Line, d.Subject.Start.Column, d.Summary))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q\n%s", got, tt.want, diags.Error())
			}
			if !strings.Contains(diags[0].Detail, tt.says) {
				t.Errorf("detail %q does not say %q", diags[0].Detail, tt.says)
			}
		})
	}
}

func TestForEachOnRespond(t *testing.T) {
	k := testKinds()
	k.AddStep(StepKind{Name: "respond", Attrs: []Attr{{Name: "json"}}, New: func(b *Block) (Action, hcl.Diagnostics) { return &renderAction{b: b}, nil }})
	src := "workflow \"w\" {\n  step \"respond\" \"answer\" {\n    for_each = \"event.body.items\"\n    json     = \"{{ each.value }}\"\n  }\n}"
	_, diags := Load([]Source{{Name: "f1.hcl", Data: []byte(src)}}, k)
	if len(diags) != 1 || diags[0].Summary != "A respond step cannot have for_each" || diags[0].Subject.Start.Line != 3 || diags[0].Subject.Start.Column != 5 {
		t.Errorf("got %s", diags.Error())
	}
}

// TestEachWhereItIsAllowed: each in every part of a for_each step.
func TestEachWhereItIsAllowed(t *testing.T) {
	_, diags := loadString(t, `workflow "w" {
  step "call" "a" {
    for_each = "event.body.items"
    if       = "each.key > 0 && each.value != nil"
    url      = "https://x/{{ each.value.id }}"
    headers  = { X-Line = "{{ each.key }}" }
    json     = "{{ each }}"
  }
  step "set" "b" {
    for_each     = "steps.a"
    max_parallel = 1000
    value        = "{{ each.value }}"
  }
}`)
	if diags.HasErrors() {
		t.Error(diags.Error())
	}
}

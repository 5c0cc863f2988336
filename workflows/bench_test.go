package workflows

import (
	"testing"
)

func BenchmarkRenderJSONBody(b *testing.B) {
	tpl, diags := compileTemplate(map[string]any{
		"id":       "{{ event.body.id }}",
		"amount":   "{{ event.body.amount / 100 }}",
		"customer": "{{ steps.first.body.id }}",
		"text":     "Paid {{ event.body.amount / 100 }} by {{ event.body.email }}",
		"source":   "stripe",
	}, location{})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	env := &Env{
		Event: map[string]any{"body": map[string]any{"id": "evt_1", "amount": 2500, "email": "ada@example.com"}},
		Steps: map[string]any{"first": map[string]any{"body": map[string]any{"id": "cus_1"}}},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFilter(b *testing.B) {
	c, diags := compileCondition("event.body.type == 'payment_intent.succeeded' && event.body.data.object.amount >= 1000", location{})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	env := &Env{Event: map[string]any{"body": map[string]any{
		"type": "payment_intent.succeeded",
		"data": map[string]any{"object": map[string]any{"amount": 2500}},
	}}}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := c.Eval(env); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

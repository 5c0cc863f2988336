package workflows

import (
	"context"

	"github.com/hashicorp/hcl/v2"
)

// testKinds is a registry with one step kind, "call", and one trigger kind, "hook", shaped
// like the real http step and webhook trigger but doing nothing: the loader's tests
// must not depend on the packages that register the real kinds.
func testKinds() *Kinds {
	k := NewKinds()
	k.AddStep(StepKind{
		Name:  "call",
		Attrs: []Attr{{Name: "url", Required: true}, {Name: "json"}, {Name: "headers"}},
		New: func(b *Block) (Action, hcl.Diagnostics) {
			return &renderAction{b: b}, nil
		},
	})
	k.AddStep(StepKind{
		Name:     "set",
		AnyAttrs: true,
		New: func(b *Block) (Action, hcl.Diagnostics) {
			return &renderAction{b: b}, nil
		},
	})
	k.AddTrigger(TriggerKind{
		Name:       "hook",
		Attrs:      []Attr{{Name: "path", Required: true}},
		EventAttrs: []string{"path"},
		New: func(b *Block) (any, hcl.Diagnostics) {
			return b.ConstString("path", "")
		},
	})
	return k
}

// renderAction renders its attributes: what a step would send.
type renderAction struct{ b *Block }

func (a *renderAction) Do(_ context.Context, c *Call) (any, error) {
	out := map[string]any{}
	for _, name := range []string{"url", "json", "headers"} {
		if t := a.b.Template(name); t != nil {
			v, err := t.Render(c.Env)
			if err != nil {
				return nil, err
			}
			out[name] = v
		}
	}
	return out, nil
}

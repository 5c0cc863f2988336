package actions

import (
	"context"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// setKind: step "set" "NAME" { a = …, b = … } computes named values; later steps read
// them as steps.NAME.a.
func setKind() workflows.StepKind {
	return workflows.StepKind{
		Name:     "set",
		AnyAttrs: true,
		New: func(b *workflows.Block) (workflows.Action, hcl.Diagnostics) {
			s := &Set{names: b.Names()}
			if len(s.names) == 0 {
				return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "set has no values",
					Detail:  `Name at least one value: step "set" "totals" { net = "{{ event.body.amount / 100 }}" }.`,
					Subject: b.DefRange.Ptr()}}
			}
			for _, n := range s.names {
				s.values = append(s.values, b.Template(n))
			}
			return s, nil
		},
	}
}

// Set is a compiled set step.
type Set struct {
	names  []string
	values []*workflows.Template
}

// Do renders every value.
func (s *Set) Do(ctx context.Context, c *workflows.Call) (any, error) {
	out, err := s.do(ctx, c)
	return out, workflows.Permanent(err) // its values render the same way on another attempt
}

func (s *Set) do(_ context.Context, c *workflows.Call) (any, error) {
	out := make(map[string]any, len(s.names))
	for i, name := range s.names {
		v, err := s.values[i].Render(c.Env)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

var _ workflows.Action = (*Set)(nil)

package workflows

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// keys() and values() of an object give its keys, and their values, in the order of
// its keys, at every call; a value that is no object is still refused when the file
// loads, as expr's built-ins refuse it.
func TestKeysAndValuesInKeyOrder(t *testing.T) {
	env := testEnv()
	regions := map[string]any{}
	var want []any
	for i := range 30 {
		k := fmt.Sprintf("r%02d", 29-i)
		regions[k] = map[string]any{"region": k}
		want = append(want, k)
	}
	regions["B"], regions["a"] = map[string]any{"region": "B"}, map[string]any{"region": "a"}
	want = append(want, "B", "a")
	slices.SortFunc(want, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
	env.Steps["per_region"] = regions
	keys := compileT(t, "{{ keys(steps.per_region) }}")
	values := compileT(t, "{{ map(values(steps.per_region), .region) }}")
	for range 20 {
		for name, tpl := range map[string]*Template{"keys": keys, "values": values} {
			got, err := tpl.Render(env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: %v, want %v", name, got, want)
			}
		}
	}
	for _, src := range []string{`{{ keys("x") }}`, `{{ values(1) }}`} {
		_, diags := compileTemplate(src, location{})
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "annot get") {
			t.Errorf("%s: %v", src, diags)
		}
	}
}

package workflows

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
)

// DefaultMaxParallel is how many items of a for_each step are in flight at once when
// the step does not set max_parallel.
const DefaultMaxParallel = 10

// MaxItems is the most items one for_each may give.
const MaxItems = 10_000

// maxMaxParallel bounds max_parallel.
const maxMaxParallel = 1000

// Expr is a compiled run-time value expression: bare expr source in a string, like a
// condition, but of any type. A step's for_each is one.
type Expr struct {
	Source string
	prog   *vm.Program
}

// Eval evaluates the expression in env.
func (e *Expr) Eval(env *Env) (any, error) {
	out, err := run(e.prog, env)
	if err == nil {
		out, err = plain(out)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Source, err)
	}
	return out, nil
}

// Item is one item of a for_each: Key is the index (int) for a list, the key (string)
// for a map.
type Item struct {
	Key   any
	Value any
	// Unencoded marks an item of a map that a build before map keys were
	// percent-encoded listed (a run in flight across the upgrade): its calls send the
	// Idempotency-Key that build sent them (CallIDText).
	Unencoded bool
}

// KeyText is the item's key as it appears in ids and Idempotency-Keys: the index in
// decimal, or the map key.
func (it Item) KeyText() string {
	switch k := it.Key.(type) {
	case int:
		return strconv.Itoa(k)
	case string:
		return k
	}
	return Text(it.Key)
}

// IDText is the item's key as it goes into the id of the item's child run and its
// Idempotency-Key: KeyText with '%', ':' and control characters percent-encoded.
// Ids join their parts with ':', so a map key with a ':' in it ("x:d") would
// otherwise name what another item's child run names for its step d; and a header
// value cannot hold a newline.
func (it Item) IDText() string {
	key := it.KeyText()
	if !strings.ContainsFunc(key, idEscaped) {
		return key
	}
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		if c := key[i]; idEscaped(rune(c)) {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// CallIDText is the item's key as its Idempotency-Key holds it: IDText, or, for an
// Unencoded item, KeyText, the key its earlier attempts sent, so that an API
// honouring the header sees the same key across the upgrade. (A key with a control
// character is encoded all the same: no header could carry it, so no attempt sent it.)
func (it Item) CallIDText() string {
	key := it.KeyText()
	if it.Unencoded && !strings.ContainsFunc(key, isControl) {
		return key
	}
	return it.IDText()
}

// isControl reports whether c is a control character, which no header value holds.
func isControl(c rune) bool { return c < 0x20 || c == 0x7f }

// idEscaped reports whether IDText percent-encodes c.
func idEscaped(c rune) bool {
	return c == '%' || c == ':' || isControl(c)
}

// EachValue is what expressions read as each: {key, value}.
func (it Item) EachValue() map[string]any {
	return map[string]any{"key": it.Key, "value": it.Value}
}

// Items evaluates the step's for_each in env. A list gives its items in order, keyed
// 0..n-1; a map gives its entries sorted by key, and isMap true (an empty map too, so
// that the step's output is a map). An empty list or map gives no items. Anything else,
// nil included, is an error, and so are more than MaxItems items. A step without
// for_each gives nil, false, nil.
func (s *Step) Items(env *Env) (items []Item, isMap bool, err error) {
	if s.ForEach == nil {
		return nil, false, nil
	}
	v, err := s.ForEach.Eval(env)
	if err != nil {
		return nil, false, fmt.Errorf("for_each of step %q: %w", s.Name, err)
	}
	return s.itemsOf(v)
}

// itemsOf lists the items of v, the value the step's for_each gave.
func (s *Step) itemsOf(v any) ([]Item, bool, error) {
	tooMany := func(n int) error {
		return fmt.Errorf("for_each of step %q gave %d items; at most %d are allowed", s.Name, n, MaxItems)
	}
	switch v := v.(type) {
	case []any: // what event data and expr's own functions give: no reflection
		if len(v) > MaxItems {
			return nil, false, tooMany(len(v))
		}
		items := make([]Item, len(v))
		for i, e := range v {
			items[i] = Item{Key: i, Value: e}
		}
		return items, false, nil
	case map[string]any:
		if len(v) > MaxItems {
			return nil, false, tooMany(len(v))
		}
		keys := sortedKeys(v)
		items := make([]Item, len(keys))
		for i, k := range keys {
			items[i] = Item{Key: k, Value: v[k]}
		}
		return items, true, nil
	case nil:
		return nil, false, fmt.Errorf("for_each of step %q: %s gave nil, not a list or a map (add ?? [] to run no items when it is missing)",
			s.Name, s.ForEach.Source)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array: // [1, 2] gives []int, split() []string
		if rv.Len() > MaxItems {
			return nil, false, tooMany(rv.Len())
		}
		items := make([]Item, rv.Len())
		for i := range items {
			items[i] = Item{Key: i, Value: rv.Index(i).Interface()}
		}
		return items, false, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if rv.Len() > MaxItems {
			return nil, false, tooMany(rv.Len())
		}
		items := make([]Item, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			items = append(items, Item{Key: it.Key().String(), Value: it.Value().Interface()})
		}
		sort.Slice(items, func(i, j int) bool { return items[i].Key.(string) < items[j].Key.(string) })
		return items, true, nil
	}
	return nil, false, fmt.Errorf("for_each of step %q: %s gave %s, not a list or a map", s.Name, s.ForEach.Source, kindOf(reflect.TypeOf(v)))
}

// KindOf names the kind of a value the way users know values: a string, a number, a
// bool, an object, a list; nil for nil.
func KindOf(v any) string {
	if v == nil {
		return "nil"
	}
	return kindOf(reflect.TypeOf(v))
}

// kindOf names a Go type the way users know values: a string, a number, a bool.
func kindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return t.String()
}

// respondKind answers a webhook, which is answered once: it cannot run per item.
const respondKind = "respond"

// forEach reads the for_each of a step of the given kind.
func (l *loader) forEach(a *hcl.Attribute, kind string, ev *evaluator, sc *scope) (*Expr, hcl.Diagnostics) {
	if kind == respondKind {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "A respond step cannot have for_each",
			Detail: "A respond step answers the webhook, and a webhook is answered once. Run for_each in an earlier step " +
				`and answer with all of its items after it: json = "{{ steps.NAME }}".`,
			Subject: a.Range.Ptr(),
		}}
	}
	src, loc, diags := l.exprSource(a, ev, sc, `for_each is evaluated when the step runs, so write it in quotes: for_each = "event.body.items".`,
		`for_each is an expression in quotes that gives a list or a map, such as "event.body.items"; a fixed list is an expression too: "['a', 'b']".`)
	if diags.HasErrors() {
		return nil, diags
	}
	return compileForEach(src, loc)
}

// maxParallel reads a step's max_parallel, which only a step with for_each may set.
func maxParallel(common *Block, step string, forEach bool) (int, hcl.Diagnostics) {
	a := common.Attr("max_parallel")
	if a != nil && !forEach {
		return DefaultMaxParallel, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "max_parallel needs for_each",
			Detail: fmt.Sprintf(`max_parallel is how many items of a for_each run at once, and step %q runs once. `+
				`Add for_each = "event.body.items" to run it per item, or remove max_parallel.`, step),
			Subject: a.Range.Ptr(),
		}}
	}
	return common.Int("max_parallel", DefaultMaxParallel, 1, maxMaxParallel)
}

// compileForEach compiles a step's for_each, read from the attribute at loc: bare expr
// source giving a list or a map.
func compileForEach(src string, loc location) (*Expr, hcl.Diagnostics) {
	trimmed := strings.TrimSpace(src)
	if strings.HasPrefix(trimmed, "{{") && strings.HasSuffix(trimmed, "}}") {
		return nil, hcl.Diagnostics{loc.diag(hcl.DiagError, "for_each written as a template",
			fmt.Sprintf("for_each is a bare expression, like if: drop the {{ }} and write %q.", unbraced(trimmed)))}
	}
	if trimmed == "" {
		return nil, hcl.Diagnostics{loc.diag(hcl.DiagError, "Empty for_each",
			`for_each needs an expression that gives a list or a map, such as "event.body.items".`)}
	}
	prog, err := loc.compiler().compile(src, false)
	if err != nil {
		return nil, hcl.Diagnostics{exprDiag(err, src, 0, loc)}
	}
	diags := checkRefs(prog, src, 0, loc)
	if diags.HasErrors() {
		return nil, diags
	}
	// Event data is typed only when it arrives; what is known now must be a collection.
	if t := prog.Node().Type(); t != nil {
		switch t.Kind() {
		case reflect.Interface, reflect.Slice, reflect.Array, reflect.Map:
		default:
			d := loc.diag(hcl.DiagError, "for_each does not give a list or a map",
				fmt.Sprintf(`%q gives %s. for_each runs the step once per item of a list or a map, such as "event.body.items".`,
					trimmed, kindOf(t)))
			d.Subject = loc.at(0, len(src)).Ptr()
			return nil, loc.hidingSecrets(hcl.Diagnostics{d}, 0, len(src))
		}
	}
	return &Expr{Source: src, prog: prog}, diags
}

package workflows

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
)

// keys() and values() of an object give its keys, or their values, in the order of
// its keys (Go's string order: by bytes, so "B" before "a" and "10" before "9"), where
// expr's built-ins give Go's map order, another at each call. A list made of them (a
// message, a request's body, an idempotency key) is then the same at every run, and
// values(steps.r) of a for_each over an object is in the order of its items, as
// runs list them. They keep the built-ins' load-time checks (keys("x") is an error)
// and their messages, which explainCall rewrites.
var sortedMapFunctions = []expr.Option{
	overrideBuiltin("keys", func(p ...any) (any, error) {
		_, keys, err := mapKeysInOrder("keys", p)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k.Interface()
		}
		return out, nil
	}),
	overrideBuiltin("values", func(p ...any) (any, error) {
		m, keys, err := mapKeysInOrder("values", p)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = m.MapIndex(k).Interface()
		}
		return out, nil
	}),
}

// overrideBuiltin replaces expr's built-in name with fn, keeping the built-in's check
// of its arguments' types.
func overrideBuiltin(name string, fn func(p ...any) (any, error)) expr.Option {
	b := builtin.Builtins[builtin.Index[name]]
	return func(c *conf.Config) {
		c.Functions[name] = &builtin.Function{Name: name, Func: fn, Validate: b.Validate}
	}
}

// mapKeysInOrder is the map of p, the arguments of keys() or values(), and its keys in
// order; the error, for anything but a map, is the built-in's.
func mapKeysInOrder(name string, p []any) (reflect.Value, []reflect.Value, error) {
	if len(p) != 1 {
		return reflect.Value{}, nil, fmt.Errorf("invalid number of arguments (expected 1, got %d)", len(p))
	}
	m := reflect.ValueOf(p[0])
	if m.Kind() != reflect.Map {
		return reflect.Value{}, nil, fmt.Errorf("cannot get %s from %s", name, m.Kind())
	}
	keys := m.MapKeys()
	if m.Type().Key().Kind() == reflect.String {
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	} else { // no JSON object has such keys; Go's own maps might
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i].Interface()) < fmt.Sprint(keys[j].Interface()) })
	}
	return m, keys, nil
}

// MapsInOrder is the expr option of keys() and values() in key order, for expressions
// compiled apart from a workflow's (a poll's items, cursor and key): a poll's key
// written over values(item) must be the same at every poll.
func MapsInOrder() expr.Option {
	return func(c *conf.Config) {
		for _, o := range sortedMapFunctions {
			o(c)
		}
	}
}

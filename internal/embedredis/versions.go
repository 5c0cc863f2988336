package embedredis

import (
	"reflect"
	"time"
	"unsafe"

	"github.com/alicebob/miniredis/v2"
)

// miniredis counts the changes of every key for WATCH, in a map of its own, and never
// forgets a key's count when the key goes: under a steady stream of runs, the names of
// every job and run that ever was would stay in memory, about 300 bytes a relay run.
// forgetEvery is how often the counts of keys that are gone are dropped, once they
// outnumber the keys that exist. hookflow never watches a key; a client that did, and
// whose key went and came back meanwhile, could miss that change.
const forgetEvery = time.Second

// forgetting drops the counts of keys that are gone every forgetEvery, until stop.
func forgetting(m *miniredis.Miniredis, stop <-chan struct{}) {
	t := time.NewTicker(forgetEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			forgetGone(m)
		}
	}
}

// forgetGone drops the counts of the keys that are gone in every database, when they
// outnumber the keys that exist, and returns how many it dropped.
func forgetGone(m *miniredis.Miniredis) int {
	m.Lock()
	defer m.Unlock()
	n := 0
	dbs := reflect.ValueOf(m).Elem().FieldByName("dbs")
	if !dbs.IsValid() || dbs.Kind() != reflect.Map {
		return 0 // another miniredis: nothing to do, or nothing this can do
	}
	for _, id := range dbs.MapKeys() {
		db := dbs.MapIndex(id)
		if db.Kind() != reflect.Pointer || db.IsNil() {
			continue
		}
		keys, ok := field[map[string]string](db.Elem(), "keys")
		if !ok {
			continue
		}
		versions, ok := field[map[string]uint](db.Elem(), "keyVersion")
		if !ok || len(versions) <= 2*len(keys)+1024 {
			continue
		}
		for k := range versions {
			if _, ok := keys[k]; !ok {
				delete(versions, k)
				n++
			}
		}
	}
	return n
}

// field is the unexported field name of the struct v, when it has type T.
func field[T any](v reflect.Value, name string) (T, bool) {
	var zero T
	f := v.FieldByName(name)
	if !f.IsValid() || f.Type() != reflect.TypeFor[T]() || !f.CanAddr() {
		return zero, false
	}
	return *(*T)(unsafe.Pointer(f.UnsafeAddr())), true
}

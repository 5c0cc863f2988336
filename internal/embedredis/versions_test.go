package embedredis

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/redis/go-redis/v9"
)

// The counts miniredis keeps of keys that came and went are dropped once they
// outnumber the keys there are, and the keys there are keep theirs.
func TestForgetGone(t *testing.T) {
	m, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.stopForgetting() // this test forgets by itself
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	if err := rdb.Set(ctx, "kept", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		key := fmt.Sprintf("run:%d", i)
		if err := rdb.HSet(ctx, key, "status", "succeeded").Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Del(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n := forgetGone(m.Miniredis); n != 2000 {
		t.Errorf("forgot %d counts, want the 2000 of the keys gone (has miniredis renamed its fields?)", n)
	}
	if n := forgetGone(m.Miniredis); n != 0 {
		t.Errorf("forgot %d more counts, want none", n)
	}
	versions, _ := field[map[string]uint](reflect.ValueOf(m.DB(0)).Elem(), "keyVersion")
	if _, ok := versions["kept"]; !ok || len(versions) != 1 {
		t.Errorf("counts left %v, want kept's alone", versions)
	}
	if got, err := rdb.Get(ctx, "kept").Result(); err != nil || got != "1" {
		t.Errorf("kept = %q, %v", got, err)
	}
}

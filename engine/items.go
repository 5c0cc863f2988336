package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// A for_each step's job lists its items into the step's items hash (n, v:<i> values,
// k:<i> keys of a map, map when they are a map's), each item's job records into the step's results hash (by
// index), and its join reads them back.

// encodeItems encodes listed items as the commit script takes them: (key, value) JSON
// pairs, the key empty for a list's index.
func encodeItems(items []workflows.Item) ([][2][]byte, error) {
	out := make([][2][]byte, len(items))
	for i, it := range items {
		v, err := json.Marshal(it.Value)
		if err == nil {
			err = workflows.CheckStoredDepth(v) // as its job reads it back
		}
		if err != nil {
			return nil, fmt.Errorf("item %s: %w", it.KeyText(), err)
		}
		out[i][1] = v
		if _, index := it.Key.(int); !index {
			k, err := json.Marshal(it.Key)
			if err != nil {
				return nil, fmt.Errorf("item %s: %w", it.KeyText(), err)
			}
			out[i][0] = k
		}
	}
	return out, nil
}

// itemSetOf is the set a listing makes: n items, none settled; isMap says they are a
// map's, which an empty map's none cannot say.
func itemSetOf(items []workflows.Item, isMap bool) *itemSet {
	set := &itemSet{n: len(items), records: map[int]*Record{}}
	if !isMap {
		return set
	}
	set.keys = make([]any, len(items))
	for i, it := range items {
		set.keys[i] = it.Key
	}
	return set
}

// item is the workflows.Item a leased item job runs.
func (j *job) item() (*workflows.Item, error) {
	it := &workflows.Item{Key: j.unit.item}
	if j.key != "" {
		k, err := workflows.DecodeStored([]byte(j.key))
		if err != nil {
			return nil, fmt.Errorf("item %d key: %w", j.unit.item, err)
		}
		it.Key, it.Unencoded = k, j.listed != listedEncoded
	}
	if j.value == "" {
		return nil, fmt.Errorf("item %d of step %s: its value is gone (the run's items expired?)", j.unit.item, j.unit.step)
	}
	v, err := workflows.DecodeStored([]byte(j.value))
	if err != nil {
		return nil, fmt.Errorf("item %d value: %w", j.unit.item, err)
	}
	it.Value = v
	return it, nil
}

// readItems reads a for_each step's items of a run: their count, keys and records. It
// returns nil when the step has not listed them.
func (q *queue) readItems(ctx context.Context, sh *shard, runID, step string) (*itemSet, error) {
	pipe := q.rdb.Pipeline()
	head := pipe.HMGet(ctx, sh.items(runID, step), "n", "k:0", "map")
	results := pipe.HGetAll(ctx, sh.results(runID, step))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	vals := head.Val()
	ns, _ := vals[0].(string)
	if ns == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(ns)
	if err != nil {
		return nil, fmt.Errorf("items of %s: count %q", step, ns)
	}
	set := &itemSet{n: n, records: map[int]*Record{}}
	for f, v := range results.Val() {
		i, err := strconv.Atoi(f)
		if err != nil || i < 0 || i >= n {
			continue
		}
		r, err := decodeRecord(v)
		if err != nil {
			return nil, fmt.Errorf("record of %s[%d]: %w", step, i, err)
		}
		set.records[i] = r
	}
	// A map's items have keys; an empty map's, none, but its listing marked it a map
	// (runs listed before that was recorded have only the keys to tell).
	_, keyed := vals[1].(string)
	_, marked := vals[2].(string)
	switch {
	case keyed && n > 0:
		if set.keys, err = q.itemKeys(ctx, sh.items(runID, step), n); err != nil {
			return nil, fmt.Errorf("keys of %s: %w", step, err)
		}
	case marked:
		set.keys = []any{}
	}
	return set, nil
}

// itemKeys reads the keys of a map's n items, in order.
func (q *queue) itemKeys(ctx context.Context, key string, n int) ([]any, error) {
	keys := make([]any, 0, n)
	const chunk = 1000
	for from := 0; from < n; from += chunk {
		fields := make([]string, 0, chunk)
		for i := from; i < min(from+chunk, n); i++ {
			fields = append(fields, "k:"+strconv.Itoa(i))
		}
		vals, err := q.rdb.HMGet(ctx, key, fields...).Result()
		if err != nil && err != redis.Nil {
			return nil, err
		}
		for _, v := range vals {
			s, _ := v.(string)
			k, err := workflows.DecodeStored([]byte(s))
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

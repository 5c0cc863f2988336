package engine

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// sensitiveOutput is what replaces a sensitive step's output in its record once its
// run has succeeded.
var sensitiveOutput, _ = json.Marshal(workflows.SensitiveShown)

// forgetSensitive replaces the outputs the sensitive steps of a run that succeeded
// recorded (their items' too) by what is shown of them: the raw values were kept
// only for the later steps of the run, and for a replay, which a run that succeeded
// never has. A run that fails keeps them, to be replayed, until its retention ends.
func (q *queue) forgetSensitive(ctx context.Context, sh *shard, runID string, wf *workflows.Workflow) error {
	var fields []string
	var lists []string // the item results of sensitive for_each steps
	for _, s := range slices.Concat(wf.Steps, wf.OnFailure) {
		if !s.Sensitive {
			continue
		}
		fields = append(fields, recordPrefix+s.Name)
		if s.ForEach != nil {
			lists = append(lists, sh.results(runID, s.Name))
		}
	}
	if len(fields) == 0 {
		return nil
	}
	pipe := q.rdb.Pipeline()
	records := pipe.HMGet(ctx, sh.run(runID), fields...)
	results := make([]*redis.MapStringStringCmd, len(lists))
	for i, key := range lists {
		results[i] = pipe.HGetAll(ctx, key)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	write := q.rdb.Pipeline()
	for i, v := range records.Val() {
		if data, ok := v.(string); ok {
			if hidden := hideOutput(data); hidden != "" {
				write.HSet(ctx, sh.run(runID), fields[i], hidden)
			}
		}
	}
	for i, res := range results {
		for item, data := range res.Val() {
			if hidden := hideOutput(data); hidden != "" {
				write.HSet(ctx, lists[i], item, hidden)
			}
		}
	}
	if write.Len() == 0 {
		return nil
	}
	_, err := write.Exec(ctx)
	return err
}

// hideOutput is an encoded record with its output replaced by [sensitive]; "" when it
// has none, or cannot be read.
func hideOutput(data string) string {
	rec, err := decodeRecord(data)
	if err != nil || len(rec.Output) == 0 || string(rec.Output) == string(sensitiveOutput) {
		return ""
	}
	rec.Output, rec.Sensitive = sensitiveOutput, true
	return string(encodeRecord(rec))
}

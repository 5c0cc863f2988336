package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// eventTexts reads the events of runs as the history shows them (credentials and
// secrets redacted), as JSON text to search: "" for a run without one.
func (q *queue) eventTexts(ctx context.Context, runs []cursor, secrets *workflows.Redactor) ([]string, error) {
	pipe := q.rdb.Pipeline()
	for _, c := range runs {
		pipe.HMGet(ctx, c.sh.run(c.id), "event", eventShownField) // as it is shown
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]string, len(runs))
	for i, c := range cmds {
		vals, _ := c.(*redis.SliceCmd).Result()
		raw := shownOf(vals)
		if raw == "" {
			continue
		}
		ev, err := workflows.DecodeEvent([]byte(raw))
		if err != nil {
			continue
		}
		var text bytes.Buffer
		enc := json.NewEncoder(&text)
		enc.SetEscapeHTML(false) // <, > and & as they came: they are searched for
		enc.Encode(eventView(ev, secrets))
		out[i] = text.String()
	}
	return out, nil
}

// containsFold reports whether s contains sub, in any case.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

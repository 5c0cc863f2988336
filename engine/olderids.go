package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// Since "engine: an item's map key is percent-encoded in its child run's id and
// Idempotency-Key", an item of a map names its child run, and its calls'
// Idempotency-Key, by its key with '%', ':' and control characters percent-encoded
// (Item.IDText); older builds named them by the key as it is (Item.KeyText). A run in
// flight across the upgrade goes on with what those builds made:
//
//   - The child run of an item is looked for under its id, then, when no run has it,
//     under the id older builds gave it, and taken only when that run's event names
//     this item as its parent (its run, step and job). Under the older ids the key
//     "x:d" named the child that item x's child started for its step d: that run's
//     parent is x's child, so it is never taken for item x:d's. The run under an
//     item's id is checked so too when its key needed encoding: item "a%3Ab"'s older
//     id is item "a:b"'s now.
//   - An item whose step an older build listed sends the Idempotency-Key that build
//     sent (Item.Unencoded): a listing of a map's items marks its items hash's map
//     field listedEncoded, where older builds wrote 1, or, before that field, nothing.

// listedEncoded is the map field of an items hash listed by a build that
// percent-encodes map keys in ids.
const listedEncoded = "2"

// olderChildID is the id older builds gave the child run of a workflow step's item:
// <run>:<step>:<key> with the key as it is; "" when that is the id it has now (an
// index, a key with nothing to encode), or for a step without for_each.
func olderChildID(runID, step string, item *workflows.Item) string {
	if item == nil {
		return ""
	}
	id := runID + ":" + step + ":" + item.KeyText()
	if id == childIDOf(runID, step, item) {
		return ""
	}
	return id
}

// findChild is the id of the child run of a workflow step's unit, job jobID of run
// runID (item nil for a step without for_each), with what childFields reads of it:
// none when it has not started, and its id then is childIDOf's. An item's child that
// an older build started is found under the id that build gave it (above). When the
// item's key needed encoding, the run under its id may be another item's child an
// older build started (item "a%3Ab"'s id then is item "a:b"'s now): it is taken only
// when its event names this unit as its parent, and errChildIDTaken says that the id
// is another's and no child of this item is there.
func (q *queue) findChild(ctx context.Context, sh *shard, runID, step, jobID string, item *workflows.Item) (string, map[string]string, error) {
	id := childIDOf(runID, step, item)
	older := olderChildID(runID, step, item)
	if older == "" {
		fields, err := childFields(ctx, q.rdb, sh.run(id))
		return id, fields, err
	}
	fields, mine, err := q.unitChild(ctx, sh, id, runID, step, jobID)
	if err != nil || mine {
		return id, fields, err
	}
	taken := len(fields) > 0
	found, mine, err := q.unitChild(ctx, sh, older, runID, step, jobID)
	switch {
	case err != nil:
		return id, nil, err
	case mine:
		return older, found, nil
	case taken:
		return id, nil, fmt.Errorf("%w: run %s is the child run an older build started for the item whose key is %q",
			errChildIDTaken, id, strings.TrimPrefix(id, runID+":"+step+":"))
	}
	return id, nil, nil
}

// errChildIDTaken is findChild's error for an item whose child run's id is that of
// another item's child, which an older build started: this item's child cannot start.
var errChildIDTaken = errors.New("the id of this item's child run is taken")

// unitChild reads run id with what childFields reads, and whether its event names the
// unit (job jobID of run runID's step) as its parent; none when there is no such run.
func (q *queue) unitChild(ctx context.Context, sh *shard, id, runID, step, jobID string) (map[string]string, bool, error) {
	found, err := childFields(ctx, q.rdb, sh.run(id), "event")
	if err != nil || len(found) == 0 {
		return nil, false, err
	}
	var ev struct {
		Parent *workflows.EventParent `json:"parent"`
	}
	if json.Unmarshal([]byte(found["event"]), &ev) != nil || ev.Parent == nil ||
		ev.Parent.RunID != runID || ev.Parent.Step != step || ev.Parent.Job != jobID {
		return found, false, nil // another's: its parent is not this unit
	}
	delete(found, "event")
	return found, true, nil
}

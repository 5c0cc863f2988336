package engine

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

// The workers' error lines are written each at most once per errEvery, by message:
// one failure does not hide another, and each line says how many of it were not
// written since the one before.
func TestErrorLinesAreThrottledByMessage(t *testing.T) {
	var logs testutil.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	at := time.Unix(1764900000, 0)
	r := rateLimit{now: func() time.Time { return at }}
	for range 3 {
		r.log(log, "leasing steps failed", "shard", 0)
	}
	r.log(log, "recording step result failed", "run", "r1")
	at = at.Add(errEvery)
	r.log(log, "leasing steps failed", "shard", 1)
	lease, record := logs.Lines("leasing steps failed"), logs.Lines("recording step result failed")
	if len(lease) != 2 || !strings.HasSuffix(lease[0], "shard=0 suppressed=0") || !strings.HasSuffix(lease[1], "shard=1 suppressed=2") {
		t.Errorf("leasing lines %q, want the first, then one suppressed=2 after %s", lease, errEvery)
	}
	if len(record) != 1 || !strings.HasSuffix(record[0], "run=r1 suppressed=0") {
		t.Errorf("recording lines %q, want its own line within the leasing lines' interval", record)
	}
}

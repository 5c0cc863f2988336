package workflows

import (
	"encoding/json"
	"sort"
	"strings"
)

// Redacted replaces a secret wherever hookflow records or shows text.
const Redacted = "[redacted]"

// Redactor hides the values read with secret() in text: run history, errors, logs and
// API answers. A secret is found however it got into the text, whole or inside a longer
// value ("Bearer <token>"), as written or as it looks inside a JSON string.
type Redactor struct {
	r *strings.Replacer // nil when there are no secrets
}

func newRedactor(secrets map[string]bool) *Redactor {
	var olds []string
	for s := range secrets {
		olds = append(olds, s)
		if data, err := json.Marshal(s); err == nil {
			if quoted := string(data[1 : len(data)-1]); quoted != s {
				olds = append(olds, quoted)
			}
		}
	}
	if len(olds) == 0 {
		return &Redactor{}
	}
	// Longest first, so that a secret containing another is replaced whole.
	sort.Slice(olds, func(i, j int) bool { return len(olds[i]) > len(olds[j]) })
	pairs := make([]string, 0, 2*len(olds))
	for _, s := range olds {
		pairs = append(pairs, s, Redacted)
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// String returns s with every secret replaced by [redacted].
func (r *Redactor) String(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// Bytes is String for JSON and other bytes.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || r.r == nil {
		return b
	}
	return []byte(r.r.Replace(string(b)))
}

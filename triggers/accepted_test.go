package triggers

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The answer to an accepted webhook is what encoding/json writes for it.
func TestAcceptedJSON(t *testing.T) {
	for _, a := range []accepted{
		{},
		{RunID: "01m8"},
		{RunID: "01m8", RunIDs: []string{}, Status: "duplicate"},
		{RunID: "a<1>", RunIDs: []string{"a<1>", "b&2"}, Status: "duplicate", StatusURL: "https://x.example/runs/a?x=1&y=<2>"},
	} {
		for _, html := range []bool{true, false} {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(html)
			if err := enc.Encode(&a); err != nil {
				t.Fatal(err)
			}
			want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			if got := a.AppendJSON(nil, html); !bytes.Equal(got, want) {
				t.Errorf("escapeHTML %v:\n got %s\nwant %s", html, got, want)
			}
		}
	}
}

package workflows

import (
	"mime"
	"testing"
)

// The content types MediaType knows without parsing read as parsing reads them.
func TestMediaTypeAsParsed(t *testing.T) {
	for ct, media := range commonMedia {
		m, _, err := mime.ParseMediaType(ct)
		if err != nil || m != media {
			t.Errorf("%q: MediaType says %q, ParseMediaType %q, %v", ct, media, m, err)
		}
	}
	if _, err := MediaType("application/json; charset"); err == nil {
		t.Error("an invalid content type parses")
	}
}

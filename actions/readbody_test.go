package actions

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readBody reads what io.ReadAll of a LimitReader would, whatever the length says.
func TestReadBody(t *testing.T) {
	big := strings.Repeat("x", MaxResponseBody+10)
	for _, c := range []struct {
		body string
		size int64
	}{
		{"", 0}, {"", -1}, {`{"ok":true}`, 11}, {`{"ok":true}`, -1}, {`{"ok":true}`, 3}, {`{"ok":true}`, 500},
		{strings.Repeat("a", 70<<10), 70 << 10}, {big, -1}, {big, int64(len(big))}, {big[:MaxResponseBody], MaxResponseBody},
	} {
		want, _ := io.ReadAll(io.LimitReader(strings.NewReader(c.body), MaxResponseBody+1))
		readers := []io.Reader{strings.NewReader(c.body)}
		if len(c.body) <= 1<<20 { // byte by byte is too slow for the big ones
			readers = append(readers, iotest.OneByteReader(strings.NewReader(c.body)))
		}
		for _, r := range readers {
			got, err := readBody(r, c.size)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("body of %d bytes, size %d: got %d bytes, %v; want %d", len(c.body), c.size, len(got), err, len(want))
			}
		}
	}
	boom := errors.New("boom")
	if _, err := readBody(iotest.ErrReader(boom), -1); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
}

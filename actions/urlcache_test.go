package actions

import "testing"

// The cache gives the URL parsed last, as a copy its caller may change, and parses
// any other; a URL parseURL refuses is refused each time.
func TestURLCache(t *testing.T) {
	var c urlCache
	u, err := c.parse("http://example.com/a?x=1")
	if err != nil {
		t.Fatal(err)
	}
	u.RawQuery += "&y=2" // as build appends a step's query
	again, err := c.parse("http://example.com/a?x=1")
	if err != nil || again.String() != "http://example.com/a?x=1" || again == u {
		t.Errorf("again = %v, %v", again, err)
	}
	other, err := c.parse("http://example.com/b")
	if err != nil || other.Path != "/b" {
		t.Errorf("other = %v, %v", other, err)
	}
	for range 2 {
		if _, err := c.parse("ftp://example.com/"); err == nil {
			t.Error("ftp:// parses")
		}
	}
}

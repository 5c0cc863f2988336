package workflows

import "strings"

// EscapeTarget percent-encodes, in the path, query and fragment of URL s, the bytes
// that may not appear in an HTTP request-target (RFC 9112 3.2, RFC 3986) and that a
// browser or curl escapes when it sends a link holding them: space, the bytes of
// non-ASCII characters, and " < > \ ^ ` { | }. Everything else is left as it is, so
// that a link an API returned (a next page, a signed URL) is sent as it came: a valid
// %-escape, & = + ; [ ] and the rest of a query, and a "%" that starts no escape. The
// other ASCII controls are left too, for the URL's parser to refuse; so are the
// scheme and the authority (up to the first "/", "?" or "#" after "//"). s may be
// relative ("/users?q=a b").
//
// Without it, a URL's query goes out as it was written: "?q=a b" makes the request
// line "GET /x?q=a b HTTP/1.1", which a strict server refuses and a lenient one
// misreads.
func EscapeTarget(s string) string {
	return escapeFrom(s, targetStart(s))
}

// escapeFrom is s with the bytes EscapeTarget escapes escaped from its byte start on.
func escapeFrom(s string, start int) string {
	i := start
	for i < len(s) && !escapedInTarget(s[i]) {
		i++
	}
	if i == len(s) {
		return s // the common case: nothing to escape, nothing allocated
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if !escapedInTarget(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// escapedInTarget reports whether EscapeTarget escapes byte c.
func escapedInTarget(c byte) bool {
	return c == ' ' || c >= 0x80 || strings.IndexByte("\"<>\\^`{|}", c) >= 0
}

// targetStart is where the path of URL s starts: after its scheme and authority,
// when it has them.
func targetStart(s string) int {
	rest := 0
	if i := schemeEnd(s); i > 0 {
		rest = i + 1
	}
	if !strings.HasPrefix(s[rest:], "//") {
		return rest
	}
	rest += 2
	if i := strings.IndexAny(s[rest:], "/?#"); i >= 0 {
		return rest + i
	}
	return len(s)
}

// schemeEnd is the index of the ":" that ends s's scheme (RFC 3986 3.1: a letter,
// then letters, digits, "+", "-" or "."); 0 when s starts with none.
func schemeEnd(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return i
		default:
			return 0
		}
	}
	return 0
}

package workflows

import (
	"fmt"
	"net/url"
	"strings"
)

// RenderURL renders a URL template, percent-encoding each {{ }} value for where it
// lands, so that a value from an event can neither leave its place nor add to the URL:
//
//   - in the path, as one path segment: "a/../b c" becomes "a%2F..%2Fb%20c";
//   - in the query or the fragment, as a query value: "x&admin=1" becomes "x%26admin%3D1";
//   - in the scheme or the host, as it is, but a value that would end the host (holding
//     "/", "?", "#", "@", "\\" or a space) is an error.
//
// A template that is exactly one {{ }} is a whole URL, taken as it is: a link an API
// returned, or a URL built in one expression, such as
// "{{ vars.api + '/repos/' + event.body.full_name }}", when a value is meant to span
// path segments.
func (t *Template) RenderURL(env *Env) (string, error) {
	if t.kind != joinKind {
		return t.RenderString(env)
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.prog == nil {
			b.WriteString(p.text)
			continue
		}
		v, err := run(p.prog, env)
		if err != nil {
			return "", fmt.Errorf("{{ %s }}: %w", p.src, err)
		}
		s := Text(v)
		switch urlPart(b.String()) {
		case inAuthority:
			// A value here names the host; one that could end it ("evil.com/", "a@b")
			// would send the call, and what comes after, elsewhere.
			if i := strings.IndexAny(s, "/?#@\\ \t\r\n"); i >= 0 {
				return "", fmt.Errorf("{{ %s }}: %q cannot be part of the URL's host: it holds %q", p.src, s, s[i:i+1])
			}
		case inPath:
			s = url.PathEscape(s)
		case inQuery:
			s = url.QueryEscape(s)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

type urlPosition int

const (
	inAuthority urlPosition = iota // the scheme, user info, host and port
	inPath
	inQuery // the query or the fragment
)

// urlPart tells where text appended to the URL prefix so far lands.
func urlPart(prefix string) urlPosition {
	if strings.ContainsAny(prefix, "?#") {
		return inQuery
	}
	_, rest, ok := strings.Cut(prefix, "://")
	if !ok {
		return inAuthority
	}
	if strings.Contains(rest, "/") {
		return inPath
	}
	return inAuthority
}

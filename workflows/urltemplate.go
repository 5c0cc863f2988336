package workflows

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// RenderURL renders a URL template, percent-encoding each {{ }} value for where it
// lands, so that a value from an event can neither leave its place nor add to the URL:
//
//   - at the very start, as a base URL, as it is: "{{ vars.api }}/users/…";
//   - in the path, as one path segment: "a/b c" becomes "a%2Fb%20c"; a value that
//     makes its segment "." or "..", as written or once a server decodes the path
//     ("../" becomes "..%2F"), is an error (see dotSegmentError);
//   - in the query or the fragment, as a query value: "x&admin=1" becomes "x%26admin%3D1";
//   - in the host, as it is, but only letters, digits, ".", "-", "_", "~" and ":" may
//     be there: a value that could end the host ("evil.com/", "a@b") is an error.
//
// A URL that starts with one "/" has no host: its values land in the path up to a
// "?" or "#", as in RenderRelativeURL.
//
// A template that is exactly one {{ }} is a whole URL, taken as it is: a link an API
// returned, or a URL built in one expression, such as
// "{{ vars.api + '/repos/' + event.body.full_name }}", when a value is meant to span
// path segments.
//
// A nil anywhere but in the query is an error that tells where it came from: it
// would make a URL that names another resource ("/customers/" for
// "/customers/{{ steps.find.id }}"), not one without the value. So is an empty value
// that is a whole path segment (see emptySegmentError).
func (t *Template) RenderURL(env *Env) (string, error) {
	return t.renderURL(env, false)
}

// RenderRelativeURL renders a URL template relative to a base URL, an api's: it names
// no scheme or host, so a value lands in the path, the one at the very start
// included, up to a "?" or "#", and in the query or fragment after it. Each is
// encoded as RenderURL encodes a value there; a template that is exactly one {{ }}
// is taken as it is, and nil is an error, as in RenderURL.
func (t *Template) RenderRelativeURL(env *Env) (string, error) {
	return t.renderURL(env, true)
}

func (t *Template) renderURL(env *Env, relative bool) (string, error) {
	switch t.kind {
	case exprKind:
		v, err := t.Render(env)
		if err != nil {
			return "", err
		}
		if v == nil {
			return "", nilError(env, t.src, t.ref)
		}
		return Text(v), nil
	case joinKind:
		var inPathValues []pathValue
		u, err := t.renderJoined(env, func(before string, p *part, v any) (string, error) {
			at := urlPart(before, relative)
			if v == nil && at != inQuery {
				return "", nilError(env, p.src, p.ref)
			}
			text, err := textOf(v)
			if err != nil {
				return "", fmt.Errorf("{{ %s }}: %w", p.src, err)
			}
			s, err := urlValue(at, text)
			if err != nil {
				return "", fmt.Errorf("{{ %s }}: %w", p.src, err)
			}
			if at == inPath {
				inPathValues = append(inPathValues, pathValue{start: len(before), end: len(before) + len(s), src: p.src, value: text})
			}
			return s, nil
		})
		if err != nil {
			return "", err
		}
		if err := emptySegmentError(u, inPathValues); err != nil {
			return "", err
		}
		if err := dotSegmentError(u, inPathValues); err != nil {
			return "", err
		}
		return u, nil
	}
	return t.RenderString(env)
}

// pathValue is a value written in a URL's path, at u[start:end].
type pathValue struct {
	start, end int
	src        string // its expression
	value      string // as it was given
}

// emptySegmentError is the error of an empty value in u's path that is its segment's
// whole text: "/users/{{ id }}/orders" with id = "" would call "/users//orders", which
// many servers and proxies merge into "/users/orders", and "/customers/{{ id }}" would
// call "/customers/", the list; either names another resource, as a nil there would
// (nilError). Values that make a segment with the text around them ("/files/{{ name
// }}.json") are free to be empty. It returns nil when no value empties a segment.
func emptySegmentError(u string, values []pathValue) error {
	for _, v := range values {
		if v.start != v.end {
			continue
		}
		before := v.start == 0 || u[v.start-1] == '/'
		after := v.end == len(u) || strings.IndexByte("/?#", u[v.end]) >= 0
		if before && after {
			return fmt.Errorf("{{ %s }}: the value is empty, and it is the whole path segment: the URL would name another resource "+
				`("/users/{{ id }}/orders" would call "/users//orders", which many servers and proxies read as "/users/orders", `+
				`and "/customers/{{ id }}" would call "/customers/"); a value alone in a path segment may not be empty`, v.src)
		}
	}
	return nil
}

// dotSegmentError is the error of a value in u's path that makes its segment a dot
// segment, "." or "..": servers and proxies resolve "/users/../delete" to "/delete",
// and many read "%2E%2E" as "..", so no encoding keeps such a value in its place. The
// segment is the value with the text around it: "/files/.{{ x }}" with x = "." makes
// "..". It is read as ClimbsOut reads a url relative to an api's base_url
// (climbingSegment), in an absolute url as in a relative one: "../" written "..%2F"
// is ".." to a server or proxy that decodes the path before it splits it. A value with
// dots among other characters ("a..b", "v1.2", "...") is a name like any other. It
// returns nil when no value makes a dot segment.
func dotSegmentError(u string, values []pathValue) error {
	for _, v := range values {
		start := strings.LastIndexByte(u[:v.start], '/') + 1
		end := len(u)
		if i := strings.IndexAny(u[v.end:], "/?#"); i >= 0 {
			end = v.end + i
		}
		seg := u[start:end]
		found := climbingSegment(seg)
		if found == "" {
			continue
		}
		const why = `which servers read as a step up the path ("/users/../delete" is "/delete"); a value in the path may not make a segment "." or ".."`
		whole := start == v.start && end == v.end
		switch {
		case found != seg && whole:
			return fmt.Errorf("{{ %s }}: the value %q is a whole path segment, %q, which holds the segment %q once a server or a proxy in front decodes the path, %s", v.src, v.value, seg, found, why)
		case found != seg:
			return fmt.Errorf("{{ %s }}: the value %q makes the path segment %q with the text around it, which holds the segment %q once a server or a proxy in front decodes the path, %s", v.src, v.value, seg, found, why)
		case whole:
			return fmt.Errorf("{{ %s }}: the value %q is a whole path segment, %s", v.src, v.value, why)
		}
		return fmt.Errorf("{{ %s }}: the value %q makes the path segment %q with the text around it, %s", v.src, v.value, seg, why)
	}
	return nil
}

// isDotSegment reports whether a server may read a path segment, as it is written in
// a URL, as "." or "..", and so resolve it as a step in place or up the path:
// percent-decoded, as the WHATWG URL standard and servers read "%2E"; see dotName for
// what else of it servers drop.
func isDotSegment(seg string) bool {
	return dotName(unescapeLenient(seg))
}

// dotName reports whether a decoded path segment is "." or ".." once what servers
// drop of a segment is dropped: the part from its first ";" (path parameters, which
// Tomcat, Jetty and Spring strip before they resolve the path, so that "/v1/..;/admin"
// is "/admin" to them), "?" or "#" (the query or fragment, once a proxy in front has
// decoded "%3F" or "%23") or NUL (where code in C ends a string); then trailing
// spaces (which Windows drops from a file name). What is left of "..;x", "..%00" or
// ".. " is "..". Dots among other characters are a name like any other: "..foo",
// "v1.2", "...", ".well-known", "a..;b".
func dotName(s string) bool {
	if i := strings.IndexAny(s, ";?#\x00"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimRight(s, " \t\r\n\v\f")
	return s == "." || s == ".."
}

// unescapeLenient percent-decodes s as a server would, leaving a "%" that does not
// start an escape as it is, where url.PathUnescape would decode nothing.
func unescapeLenient(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// urlValue is what is written for a value s where it lands.
func urlValue(at urlPosition, s string) (string, error) {
	switch at {
	case atStart: // a base URL
		return s, nil
	case inPath:
		return url.PathEscape(s), nil // dots and all: dotSegmentError tells a dot segment
	case inQuery:
		return url.QueryEscape(s), nil
	}
	if !hostText(s) {
		return "", errors.New("a value in the URL's host may hold only letters, digits, '.', '-', '_', '~' and ':' (credentials go in basic_auth; to add a path after the host, write the whole url as one {{ }} expression)")
	}
	return s, nil
}

// nilError is the error of an expression that gave nil where a value is needed. When
// the expression is a reference (steps.find.id), it says where the value went
// missing, and suggests the nearest field that is there.
func nilError(env *Env, src string, ref []string) error {
	if why := whyNil(env, ref); why != "" {
		return fmt.Errorf("%s is nil (%s)", src, why)
	}
	return fmt.Errorf("%s is nil", src)
}

// hostText reports whether s may be part of a URL's host and port as it is.
func hostText(s string) bool {
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-_~:", c)
		if !ok {
			return false
		}
	}
	return true
}

type urlPosition int

const (
	atStart     urlPosition = iota // the very start of an absolute URL: a base URL
	inAuthority                    // the scheme, user info, host and port
	inPath
	inQuery // the query or the fragment
)

// urlPart tells where text appended to the URL prefix so far lands. In a relative
// URL, everything before a "?" or "#" is path.
func urlPart(prefix string, relative bool) urlPosition {
	switch {
	case strings.ContainsAny(prefix, "?#"):
		return inQuery
	case relative, strings.HasPrefix(prefix, "/") && !strings.HasPrefix(prefix, "//"):
		return inPath
	case prefix == "":
		return atStart
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

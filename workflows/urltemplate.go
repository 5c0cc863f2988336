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
//   - in the path, as one path segment: "a/../b c" becomes "a%2F..%2Fb%20c", and "."
//     and ".." become "%2E" and "%2E%2E";
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
// "/customers/{{ steps.find.id }}"), not one without the value.
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
		return t.renderJoined(env, func(before string, p *part, v any) (string, error) {
			at := urlPart(before, relative)
			if v == nil && at != inQuery {
				return "", nilError(env, p.src, p.ref)
			}
			s, err := urlValue(at, Text(v))
			if err != nil {
				return "", fmt.Errorf("{{ %s }}: %w", p.src, err)
			}
			return s, nil
		})
	}
	return t.RenderString(env)
}

// urlValue is what is written for a value s where it lands.
func urlValue(at urlPosition, s string) (string, error) {
	switch at {
	case atStart: // a base URL
		return s, nil
	case inPath:
		return pathSegment(s), nil
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

// pathSegment escapes s as one path segment, dot segments included: servers resolve
// "/users/../delete" to "/delete".
func pathSegment(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
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

package workflows

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"unicode/utf8"
)

// ParseQuery parses a request's query string whole (a webhook's, a resume's), or says
// what is wrong with it (an escape that is not one, a ';', a name or value that is not
// UTF-8 once decoded) without quoting a value: an event whose query lost a parameter
// would be taken as if the sender had not sent it, and one whose bytes became U+FFFD
// as if it had sent other text. A control character (%0A, %00) is taken, as in a form
// body's field: a query is data. None is nil.
func ParseQuery(raw string) (url.Values, error) {
	if raw == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, errors.New("malformed query string: " + Unquoted(err.Error()))
	}
	if problem := queryNotUTF8(q); problem != "" {
		return nil, errors.New("malformed query string: " + problem + " is not valid UTF-8 once its %-escapes are decoded")
	}
	return q, nil
}

// queryNotUTF8 names the first parameter, by name, whose name or value is not UTF-8,
// or is "" when every one is.
func queryNotUTF8(q url.Values) string {
	var bad []string // names, as they decode, of the parameters found wrong
	for k, vs := range q {
		if !utf8.ValidString(k) || slices.ContainsFunc(vs, func(v string) bool { return !utf8.ValidString(v) }) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	slices.Sort(bad)
	if !utf8.ValidString(bad[0]) {
		return "a parameter's name"
	}
	return fmt.Sprintf("the value of parameter %q", bad[0])
}

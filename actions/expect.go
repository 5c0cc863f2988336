package actions

import (
	"fmt"
	"strconv"
	"strings"
)

// expectation is the set of statuses an http step accepts: codes (201) and classes
// ("2xx"). The default is every 2xx.
type expectation struct {
	codes   map[int]bool
	classes map[int]bool // 2 for "2xx"
	text    string       // as written, for errors
}

var expect2xx = &expectation{classes: map[int]bool{2: true}, text: "2xx"}

func (e *expectation) accepts(code int) bool {
	return e.codes[code] || e.classes[code/100]
}

// parseExpect reads expect = 204, "2xx", or a list of them.
func parseExpect(v any) (*expectation, error) {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("the list is empty; leave expect out to accept every 2xx")
	}
	e := &expectation{codes: map[int]bool{}, classes: map[int]bool{}}
	var text []string
	for _, item := range items {
		switch x := item.(type) {
		case int:
			if x < 100 || x > 599 {
				return nil, fmt.Errorf("%d is not an HTTP status (100 to 599)", x)
			}
			e.codes[x] = true
			text = append(text, strconv.Itoa(x))
		case string:
			s := strings.ToLower(x)
			if len(s) != 3 || !strings.HasSuffix(s, "xx") || s[0] < '1' || s[0] > '5' {
				if _, err := strconv.Atoi(s); err == nil {
					return nil, fmt.Errorf("%q is a string; write status codes as numbers, without quotes", x)
				}
				return nil, fmt.Errorf("%q is not a status class; classes are \"1xx\" to \"5xx\"", x)
			}
			e.classes[int(s[0]-'0')] = true
			text = append(text, s)
		default:
			return nil, fmt.Errorf("a status is a number such as 201 or a class such as \"2xx\"")
		}
	}
	e.text = strings.Join(text, ", ")
	return e, nil
}

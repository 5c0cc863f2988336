package actions

import (
	"context"
	"fmt"
	"net/http"
	"sort"
)

// authenticate sets what a step's api gives every request: its headers and its auth.
// The step's own headers and basic_auth, set after, win.
func (h *HTTP) authenticate(ctx context.Context, req *http.Request, p *prepared) error {
	a := h.api
	names := make([]string, 0, len(a.Headers))
	for name := range a.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		req.Header.Set(name, a.Headers[name])
	}
	if a.Auth == nil {
		return nil
	}
	switch au := a.Auth; au.Kind {
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+au.Token)
	case "basic":
		req.SetBasicAuth(au.Username, au.Password)
		p.user, p.pass = au.Username, au.Password
	case "header":
		req.Header.Set(au.Name, au.Value)
	default:
		return fmt.Errorf("api %q: auth %q is not supported", a.Name, au.Kind)
	}
	return nil
}

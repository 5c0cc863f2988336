package actions

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/hookflow/hookflow/workflows"
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
		if err := workflows.BasicAuthUsernameError(au.Username); err != nil {
			// A version stored before the load refused it: it fails the same way again.
			return workflows.Permanent(fmt.Errorf("api %q: auth \"basic\": %w", a.Name, err))
		}
		req.SetBasicAuth(au.Username, au.Password)
		p.user, p.pass = au.Username, au.Password
	case "header":
		req.Header.Set(au.Name, au.Value)
	case "oauth2":
		tok, err := h.tokens.token(req.Context(), h.client, refusal{}) // with the call, for a transport that reports by step
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok.Access)
		// When the call had its token, fetched by it or before: after a 401, only one
		// that came later replaces it (see again).
		p.token, p.taken, p.refreshAt = tok.Access, h.tokens.apis.now(), tok.RefreshAt
	default:
		return fmt.Errorf("api %q: auth %q is not supported", a.Name, au.Kind)
	}
	return nil
}

// authError is a failure to get what authenticates a call (an OAuth2 token): unlike a
// value that does not render, another attempt may get it.
type authError struct{ err error }

func (e *authError) Error() string { return e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// again readies a call whose OAuth2 token was refused to be sent once more, with a
// token that came after the call took the refused one: fetched anew, or the one
// another process or call fetched meanwhile. A token kept before, though newer than
// the refused one, may have been revoked with it. It returns the redactor that hides
// the new token too.
func (h *HTTP) again(ctx context.Context, p *prepared, refused *http.Response, secrets *workflows.Redactor) (*workflows.Redactor, error) {
	_, _ = io.Copy(io.Discard, io.LimitReader(refused.Body, 64<<10))
	refused.Body.Close()
	tok, err := h.tokens.token(ctx, h.client, refusal{token: p.token, taken: p.taken})
	if err != nil {
		return secrets, &authError{err}
	}
	taken := h.tokens.apis.now()
	req := p.req.Clone(p.req.Context())
	if p.req.GetBody != nil {
		if req.Body, err = p.req.GetBody(); err != nil {
			return secrets, err
		}
	}
	req.Header.Set("Authorization", "Bearer "+tok.Access)
	p.req, p.token, p.taken, p.refreshAt = req, tok.Access, taken, tok.RefreshAt
	return secrets.With(tok.Access), nil
}

// renew readies a call about to be sent with a token that is due for its refresh, or
// that another call of this process got a 401 for: the call took it, then waited (for
// its turn of the api's rate_limit, for the pages before it), and a token that expired
// or was refused meanwhile would be refused again. It takes the current token in its
// place, fetched anew if none is fresh, that came after refused (the call's 401 when
// it is sent again, zero for none) and after the refusal that stands. A call that does
// not send the api's token (the step set its own Authorization) is left as it is.
func (h *HTTP) renew(ctx context.Context, p *prepared, secrets *workflows.Redactor, refused refusal) (*workflows.Redactor, error) {
	if h.tokens == nil || p.token == "" || p.req.Header.Get("Authorization") != "Bearer "+p.token ||
		h.tokens.apis.now().Before(p.refreshAt) && !h.tokens.refusing() {
		return secrets, nil
	}
	tok, err := h.tokens.token(ctx, h.client, refused)
	if err != nil {
		return secrets, &authError{err}
	}
	p.req.Header.Set("Authorization", "Bearer "+tok.Access)
	p.token, p.taken, p.refreshAt = tok.Access, h.tokens.apis.now(), tok.RefreshAt
	return secrets.With(tok.Access), nil
}

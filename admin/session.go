package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sessionCookie holds a browser's session with the admin API: its role, when it ends
// and a random id, signed with a key derived from that role's token alone, so every
// process with the same tokens takes it, a token changed ends the sessions made with
// it, and the holder of one token cannot sign a session of the other role. Signing
// out keeps its id in Access.SignedOut until it would have ended: the cookie, kept
// and sent again, is refused.
const sessionCookie = "hookflow_session"

// sessionLength is how long a browser stays signed in.
const sessionLength = 12 * time.Hour

// sessionKey is the key that signs sessions of role r; nil when r has no token, and
// so no session.
func (a Access) sessionKey(r role) []byte {
	token := ""
	switch r {
	case roleOperator:
		token = a.OperatorToken
	case roleReader:
		token = a.ReadToken
	}
	if token == "" {
		return nil
	}
	h := sha256.New()
	h.Write([]byte("hookflow admin session\x00" + strconv.Itoa(int(r)) + "\x00" + token))
	return h.Sum(nil)
}

// sign is payload's signature for a session of role r; "" when r has no token.
func (a Access) sign(r role, payload string) string {
	key := a.sessionKey(r)
	if key == nil {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSession is the cookie value of a new session of role r until the given time:
// ROLE.UNTIL.ID.SIGNATURE.
func (a Access) newSession(r role, until time.Time) string {
	var id [16]byte
	rand.Read(id[:]) // never fails (crypto/rand)
	payload := strconv.Itoa(int(r)) + "." + strconv.FormatInt(until.Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(id[:])
	return payload + "." + a.sign(r, payload)
}

// session is a browser's session, as its cookie says.
type session struct {
	role  role
	until time.Time
	id    string // what Access.SignedOut keeps once it is signed out
}

// session reads r's session cookie; false when it is missing, forged, of a role
// without a token, or past its end. Whether it was signed out is not known yet:
// that takes a look in Access.SignedOut.
func (a Access) session(r *http.Request, now time.Time) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 4 || parts[2] == "" {
		return session{}, false
	}
	n, err := strconv.Atoi(parts[0])
	if err != nil || (role(n) != roleReader && role(n) != roleOperator) {
		return session{}, false
	}
	want := a.sign(role(n), parts[0]+"."+parts[1]+"."+parts[2])
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(parts[3])) != 1 {
		return session{}, false
	}
	until, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || now.Unix() >= until {
		return session{}, false
	}
	return session{role: role(n), until: time.Unix(until, 0), id: parts[2]}, true
}

// sessionRole is the role r's session cookie grants now: roleNone when it has none
// (see session) or it was signed out. It fails when Access.SignedOut cannot be read.
func (a Access) sessionRole(r *http.Request, now time.Time) (role, error) {
	s, ok := a.session(r, now)
	if !ok {
		return roleNone, nil
	}
	out, err := a.SignedOut.Has(r.Context(), s.id)
	if err != nil || out {
		return roleNone, err
	}
	return s.role, nil
}

// loginStyle is the sign-in form's own style. The pages' stylesheet is behind the
// session the form signs in, so the form carries its style in a <style> element,
// allowed by its hash (loginCSP): no other inline style is.
const loginStyle = `body { font-family: system-ui, sans-serif; max-width: 28em; margin: 4em auto; padding: 0 1em }
[role=alert] { color: #b00 }
#token { width: 100%; box-sizing: border-box }`

// loginCSP is the pages' policy (pageCSP), with the form's own style allowed by its hash.
var loginCSP = func() string {
	sum := sha256.Sum256([]byte(loginStyle))
	return strings.Replace(pageCSP, "style-src 'self'", "style-src 'self' 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'", 1)
}()

// loginPage is the sign-in form.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hookflow: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>` + loginStyle + `</style></head>
<body>
<main>
<h1>hookflow</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/login">
{{with .Next}}<input type="hidden" name="next" value="{{.}}">{{end}}
<label for="token">Admin token</label><br>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p>
</form>
<p>The operator or the read-only token that hookflow serve was given (--admin-token, --admin-read-token).</p>
</main>
</body></html>
`))

// signedInHome is where a browser lands once signed in, when it asked for no other
// page: the run inspector's runs.
const signedInHome = "/"

// loginForm is what the sign-in form shows: why the last try failed, and the page it
// goes on to once signed in.
type loginForm struct{ Error, Next string }

// login serves the sign-in form (GET /login?next=PAGE) and takes it (POST /login): a
// right token sets an HttpOnly, SameSite=Strict session cookie and goes on to PAGE,
// the page the browser first asked for, or to signedInHome. The form post must come
// from the API's own origin.
//
// A link to a page from another site (an alert, a chat) comes without the cookie,
// SameSite=Strict, and so through this form: next brings the browser to the page
// linked. Only a path of this server is followed (see localPage): no other site can
// use the form to send a signed-in browser elsewhere.
func (a Access) login(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	w.Header().Set("Content-Security-Policy", loginCSP)
	if r.Method != http.MethodPost {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		loginPage.Execute(w, loginForm{Next: localPage(r.URL.Query().Get("next"))})
		return
	}
	if !sameOrigin(r) {
		http.Error(w, "refusing a sign-in from another origin", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	role := a.role("Bearer " + r.PostFormValue("token"))
	next := localPage(r.PostFormValue("next"))
	if role == roleNone {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		loginPage.Execute(w, loginForm{Error: "That is not a token of this hookflow.", Next: next})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: a.newSession(role, time.Now().Add(sessionLength)),
		Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"), MaxAge: int(sessionLength.Seconds())})
	if next == "" {
		next = signedInHome
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signInURL is the sign-in form's URL for a browser not signed in that asked for u:
// once signed in, it goes on to u.
func signInURL(u *url.URL) string {
	page := localPage(u.RequestURI())
	if page == "" || page == signedInHome {
		return "/login"
	}
	return "/login?" + url.Values{"next": {page}}.Encode()
}

// localPage is next when it is a path of this server, with its query, and "" when a
// browser could read it as another site's address: it must start with a single "/"
// ("//host" and "/\host" name a host to browsers, which read "\" as "/"), hold no
// backslash nor control character (browsers drop tabs and newlines from a URL, so
// "/\t/host" is "//host"), and parse with no scheme and no host. A path encoded once
// more ("%2F%2Fhost") is not one: it does not start with "/".
func localPage(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(c rune) bool { return c == '\\' || c < ' ' || c == 0x7f }) {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return next
}

// signOutPage is what GET /logout shows a browser signed in: a button that signs out
// with POST, as the pages' Sign out does. A GET that signed out would let any page
// sign the browser out with a link or an image.
var signOutPage = template.Must(template.New("logout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hookflow: sign out</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>` + loginStyle + `</style></head>
<body>
<main>
<h1>hookflow</h1>
<form method="post" action="/logout">
<p><button type="submit">Sign out</button></p>
</form>
<p><a href="/">Back to the runs</a></p>
</main>
</body></html>
`))

// logout ends the browser's session (POST /logout): its cookie is cleared, and its id
// kept signed out until the session would have ended, for every process sharing
// Access.SignedOut, so that a copy of the cookie is refused too. The post must come
// from the API's own origin. GET /logout (typed in the address bar) shows a button
// that posts it, or sends a browser not signed in to the sign-in form; another method
// is answered 405.
func (a Access) logout(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet, http.MethodHead:
		if _, ok := a.session(r, time.Now()); !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		pageHeaders(w.Header())
		w.Header().Set("Content-Security-Policy", loginCSP)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		signOutPage.Execute(w, nil)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, r.Method+" is not allowed at /logout: sign out with POST (the pages' Sign out button)", http.StatusMethodNotAllowed)
		return
	}
	if !sameOrigin(r) {
		why := "refusing a sign-out from another origin"
		if r.Header.Get("Origin") == "" {
			why = "refusing a sign-out without this origin's Origin header (a browser's Sign out button sends it)"
		}
		http.Error(w, why, http.StatusForbidden)
		return
	}
	if s, ok := a.session(r, time.Now()); ok {
		if err := a.SignedOut.Add(r.Context(), s.id, s.until); err != nil {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "cannot sign out right now (the session stays valid); try again", http.StatusServiceUnavailable)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// sameOrigin reports whether a browser's request says it comes from the API's own
// origin: Origin present and naming the request's host.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	_, host, ok := strings.Cut(origin, "://")
	return ok && strings.EqualFold(host, r.Host) && crossSite(r) == ""
}

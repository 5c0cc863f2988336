package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sessionCookie holds a browser's session with the admin API: its role and when it
// ends, signed with a key derived from the tokens, so every process with the same
// tokens takes it, and a token changed ends the sessions made with it.
const sessionCookie = "hookflow_session"

// sessionLength is how long a browser stays signed in.
const sessionLength = 12 * time.Hour

func (a Access) sessionKey() []byte {
	h := sha256.New()
	h.Write([]byte("hookflow admin session\x00" + a.OperatorToken + "\x00" + a.ReadToken))
	return h.Sum(nil)
}

func (a Access) sign(payload string) string {
	m := hmac.New(sha256.New, a.sessionKey())
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSession is the cookie value of a session of role r until the given time.
func (a Access) newSession(r role, until time.Time) string {
	payload := strconv.Itoa(int(r)) + "." + strconv.FormatInt(until.Unix(), 10)
	return payload + "." + a.sign(payload)
}

// sessionRole is the role a session cookie grants now; roleNone when it is missing,
// forged or past its end.
func (a Access) sessionRole(r *http.Request, now time.Time) role {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return roleNone
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return roleNone
	}
	payload := parts[0] + "." + parts[1]
	if subtle.ConstantTimeCompare([]byte(a.sign(payload)), []byte(parts[2])) != 1 {
		return roleNone
	}
	until, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || now.Unix() >= until {
		return roleNone
	}
	switch n, _ := strconv.Atoi(parts[0]); role(n) {
	case roleReader:
		return roleReader
	case roleOperator:
		return roleOperator
	}
	return roleNone
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hookflow: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28em; margin: 4em auto">
<h1>hookflow</h1>
{{if .Error}}<p role="alert" style="color: #b00">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<label for="token">Admin token</label><br>
<input id="token" name="token" type="password" autocomplete="current-password" required style="width: 100%">
<p><button type="submit">Sign in</button></p>
</form>
<p>The operator or the read-only token that hookflow serve was given (--admin-token, --admin-read-token).</p>
</body></html>
`))

// signedInHome is where a browser lands once signed in: the run inspector's runs.
const signedInHome = "/"

// login serves the sign-in form (GET /login) and takes it (POST /login): a right token
// sets an HttpOnly, SameSite=Strict session cookie and goes to signedInHome. The form
// post must come from the API's own origin.
func (a Access) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodPost {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		loginPage.Execute(w, struct{ Error string }{})
		return
	}
	if !sameOrigin(r) {
		http.Error(w, "refusing a sign-in from another origin", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	role := a.role("Bearer " + r.PostFormValue("token"))
	if role == roleNone {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		loginPage.Execute(w, struct{ Error string }{"That is not a token of this hookflow."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: a.newSession(role, time.Now().Add(sessionLength)),
		Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(sessionLength.Seconds())})
	http.Redirect(w, r, signedInHome, http.StatusSeeOther)
}

// logout ends the browser's session.
func (a Access) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "refusing a sign-out from another origin", http.StatusForbidden)
		return
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

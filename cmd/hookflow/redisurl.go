package main

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// redisURL is a --redis URL taken apart the way hookflow reads it, so that no message
// about it quotes its password or a Sentinel's, nor a piece of them: a parser that is given the
// whole URL quotes what it could not read, and in a URL that does not parse, that may
// be a piece of the password (net/url's `invalid port ":Sup3rSecret" after host`, for
// a password holding a '/').
type redisURL struct {
	raw    string
	scheme string // before "://"
	// userinfo is the text before the last '@' of the authority (the part between
	// "://" and the first '/', '?' or '#'), as it is written; "" for none.
	userinfo string
	// shown is the URL with its password, if any, as "xxxxx" (user info without a
	// password, wholly): the only form of it any parser that may quote it in an error
	// is given first.
	shown string
	// secrets are the texts no message may hold: see scrub.
	secrets []string
}

// redisSchemes are the schemes --redis takes. unix:// is go-redis's, for a socket.
var redisSchemes = []string{"redis", "rediss", "redis+sentinel", "rediss+sentinel", "unix"}

// splitRedisURL takes raw apart. A URL whose user info would not be read as its
// writer meant is refused, in words of hookflow's own that quote no part of it: an
// '@' past the authority, which is a password holding a '/', '?' or '#' that is not
// percent-encoded (net/url ends the authority there, and takes the password's start
// for a port, its end for a path or a query), or a character a URL cannot hold as it
// is.
func splitRedisURL(raw string) (*redisURL, error) {
	scheme, after, ok := strings.Cut(raw, "://")
	if !ok || !slices.Contains(redisSchemes, scheme) {
		return nil, badFlag("redis", ": the URL must start with redis://, rediss://, redis+sentinel:// or rediss+sentinel://; %s", redisURLHelp)
	}
	end := strings.IndexAny(after, "/?#")
	if end < 0 {
		end = len(after)
	}
	authority, tail := after[:end], after[end:]
	u := &redisURL{raw: raw, scheme: scheme, shown: raw}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		u.userinfo = authority[:at]
		shown := "xxxxx"
		if user, _, ok := strings.Cut(u.userinfo, ":"); ok {
			shown = user + ":xxxxx"
		}
		u.shown = scheme + "://" + shown + "@" + authority[at+1:] + tail
	}
	u.secrets = secretsOf(u.userinfo)
	if strings.Contains(withoutSentinelPasswords(tail), "@") {
		return nil, badFlag("redis", ": the URL does not parse: it has an '@' after its host; a user or password holding "+
			"'/', '?', '#' or '@' must be percent-encoded (%%2F, %%3F, %%23, %%40), and so must an '@' in an option's value")
	}
	if !validUserinfo(u.userinfo) {
		return nil, badFlag("redis", ": the URL does not parse: its user or password holds a character a URL cannot hold as it is "+
			"(a space, a quote, '%%' not followed by two hex digits…): percent-encode it (a space as %%20, '%%' as %%25)")
	}
	_, query, _ := strings.Cut(tail, "?")
	for _, kv := range strings.Split(query, "&") {
		if v, ok := strings.CutPrefix(kv, "sentinel_password="); ok {
			u.secrets = append(u.secrets, piecesOf(v)...)
		}
	}
	u.secrets = longestFirst(u.secrets)
	return u, nil
}

// withoutSentinelPasswords is tail, the part of a URL after its authority, without
// the values of its ?sentinel_password= parameters: a password there may hold an '@'.
func withoutSentinelPasswords(tail string) string {
	path, query, ok := strings.Cut(tail, "?")
	if !ok {
		return tail
	}
	params := strings.Split(query, "&")
	for i, kv := range params {
		if strings.HasPrefix(kv, "sentinel_password=") {
			params[i] = "sentinel_password="
		}
	}
	return path + "?" + strings.Join(params, "&")
}

// validUserinfo reports whether net/url reads s, a URL's user info, as it is written:
// it takes the characters of RFC 3986's userinfo and '@', and a '%' only before two hex
// digits.
func validUserinfo(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._:~!$&'()*+,;=@", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// minSecret is the shortest text scrub hides: a shorter one would hide ordinary text,
// and is no secret a reader could not guess.
const minSecret = 3

// secretsOf are the texts of userinfo that no message may hold: the password, as
// written and decoded, and the pieces of it between the characters that end a part of
// a URL ('/', '?', '#', '@', ':', '&', '='), the ones a parser that misread the URL
// would quote apart. The user is no secret, and is shown: hidden, a user "hookflow" or
// "app" would hide the host hookflow-redis or the word "application" in every message.
// User info without ':' is a user alone to Redis, but may be a password written
// without its ':', and is hidden so.
func secretsOf(userinfo string) []string {
	user, pass, ok := strings.Cut(userinfo, ":")
	if !ok {
		return piecesOf(user)
	}
	return piecesOf(pass)
}

// piecesOf is v, v decoded, and the pieces of each between the characters that end a
// part of a URL, those of at least minSecret bytes.
func piecesOf(v string) []string {
	var out []string
	forms := []string{v}
	if d, err := url.PathUnescape(v); err == nil && d != v {
		forms = append(forms, d)
	}
	if d, err := url.QueryUnescape(v); err == nil && d != v {
		forms = append(forms, d)
	}
	for _, f := range forms {
		out = append(out, f)
		out = append(out, strings.FieldsFunc(f, func(r rune) bool { return strings.ContainsRune("/?#@:&=", r) })...)
	}
	return slices.DeleteFunc(out, func(s string) bool { return len(s) < minSecret })
}

// longestFirst sorts secrets longest first, without repeats, so that a secret is
// hidden whole before a piece of it is looked for.
func longestFirst(secrets []string) []string {
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(secrets)
}

// scrub hides every secret of the URL in s as "xxxxx".
func (u *redisURL) scrub(s string) string {
	for _, secret := range u.secrets {
		s = strings.ReplaceAll(s, secret, "xxxxx")
	}
	return s
}

// hide scrubs err's message, keeping what it is (a usage error naming its flag, a
// Redis that cannot be reached) and what it wraps: every error openRedis returns goes
// through it, whatever a parser, a dialer or a server put in it.
func (u *redisURL) hide(err error) error {
	if err == nil || len(u.secrets) == 0 {
		return err
	}
	var use *usageError
	var flag *flagError
	var unreachable *unreachableError
	var mismatch *mismatchError
	switch {
	case errors.As(err, &use) && errors.As(use.err, &flag):
		return &usageError{&flagError{flag: flag.flag, name: flag.name, err: u.hideText(flag.err)}}
	case errors.As(err, &mismatch) && errors.As(mismatch.err, &flag):
		return &mismatchError{&flagError{flag: flag.flag, name: flag.name, err: u.hideText(flag.err)}}
	case errors.As(err, &unreachable):
		return &unreachableError{u.hideText(unreachable.err)}
	}
	return u.hideText(err)
}

func (u *redisURL) hideText(err error) error {
	if msg := u.scrub(err.Error()); msg != err.Error() {
		return &scrubbedError{msg: msg, err: err}
	}
	return err
}

// scrubbedError is an error whose message had secrets hidden.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// redactedRedisURL is url with its password as "xxxxx", to name it in a message; a
// URL that cannot be taken apart is named as "the --redis URL".
func redactedRedisURL(raw string) string {
	u, err := splitRedisURL(raw)
	if err != nil {
		return "the --redis URL"
	}
	return u.scrub(u.shown)
}

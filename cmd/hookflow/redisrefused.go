package main

import "github.com/redis/go-redis/v9"

// refusedURL is err, Redis's answer to a connection, as a bad value of --redis when
// Redis refused the URL's user, password or database: waiting does not change that
// answer, so it is no "cannot reach" (exit status 3) but exit status 2, in one line
// naming the server and what to change. nil for any other error. (A user whose ACL
// denies a command, NOPERM, is engine.Denied's: exit status 1.)
func refusedURL(err error, where string) error {
	var what string
	switch {
	case redis.HasErrorPrefix(err, "WRONGPASS"), redis.HasErrorPrefix(err, "invalid password"),
		redis.HasErrorPrefix(err, "invalid username-password"):
		what = "refused the URL's user or password"
	case redis.HasErrorPrefix(err, "NOAUTH"):
		what = "needs a password, and the URL gives none (redis://:PASSWORD@host:port/db)"
	case redis.HasErrorPrefix(err, "AUTH"), redis.HasErrorPrefix(err, "Client sent AUTH"):
		what = "has no password set, and the URL gives one" // Redis 5 and older
	case redis.HasErrorPrefix(err, "DB index is out of range"):
		what = "has no database of the URL's number (16, 0 to 15, unless its configuration says otherwise)"
	default:
		return nil
	}
	return &mismatchError{flagFailed("redis", ": the Redis at %s %s: %v", where, what, err)}
}

package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// once is a command go-redis sends once, whatever its error: go-redis would send it
// again after a network error, and then only the last try's error would be known, so
// that a refused connection could hide a first try that Redis ran. The pipeliner sends
// a batch with starts so, and tries it again itself (sendTries), knowing what each try
// met.
type once struct{ *redis.Cmd }

// NoRetry tells go-redis not to send the command again.
func (once) NoRetry() bool { return true }

// retryBackoff is the wait before a batch is sent again, as go-redis's shortest.
const retryBackoff = 8 * time.Millisecond

// tryAgain reports whether a command is sent again after err, one try's error, as
// go-redis sends one again (its shouldRetry): a connection lost or never made, a
// timeout, a pool with no connection free, and Redis's answers that a later try may
// not meet (LOADING, READONLY, MASTERDOWN, CLUSTERDOWN, TRYAGAIN, NOREPLICAS, too many
// clients).
func tryAgain(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), dialFailed(err), errors.Is(err, redis.ErrPoolTimeout):
		return true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	var timeout net.Error
	if errors.As(err, &timeout) && timeout.Timeout() {
		return true
	}
	if !isReply(err) || errors.As(err, new(replyError)) {
		return false
	}
	for _, code := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "NOREPLICAS"} {
		if redis.HasErrorPrefix(err, code) {
			return true
		}
	}
	return redis.HasErrorPrefix(err, "max number of clients reached")
}

// neverRan reads err, the error of one try of a script call that go-redis sent once:
// whether it proves that the try wrote nothing, and why in words. It does when the
// command never reached Redis (a connection that could not be made: refused, no route,
// a TLS handshake that failed; no connection free in the pool), or when Redis answered
// it with an error before its script ran (LOADING, MASTERDOWN, BUSY, NOSCRIPT, a cluster's MOVED,
// ASK, TRYAGAIN or CLUSTERDOWN, too many clients), or refused it as it refuses only a
// script that wrote nothing (redisRefusal). A connection lost, or a timeout, after the
// command was written proves nothing: Redis may have run it.
func neverRan(err error) (why string, ok bool) {
	switch {
	case err == nil:
		return "", false
	case dialFailed(err):
		return "hookflow could not connect to it", true
	case errors.Is(err, redis.ErrPoolTimeout):
		return "no connection to it was free in time", true
	}
	if why, none := redisRefusal(err); none {
		return why, true
	}
	var reply redis.Error
	if !errors.As(err, &reply) || errors.As(err, new(replyError)) || strings.Contains(reply.Error(), " script: ") {
		return "", false
	}
	code, _, _ := strings.Cut(reply.Error(), " ")
	switch code {
	case "LOADING":
		return "it is loading its dataset into memory", true
	case "MASTERDOWN":
		return "it is a replica that lost its primary", true
	case "BUSY":
		return "it is busy running a script", true
	case "NOSCRIPT":
		return "it has lost hookflow's scripts", true
	case "MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN":
		return "its cluster is moving, or has lost, the slot of the run's keys", true
	}
	if redis.HasErrorPrefix(err, "max number of clients reached") {
		return "it has as many clients as its maxclients", true
	}
	return "", false
}

// dialFailed reports whether err is a connection that could not be made: a dial that
// failed (connection refused, no route, a timeout), or a TLS handshake that found no
// TLS or a certificate it does not trust.
func dialFailed(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var (
		header  tls.RecordHeaderError
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	return errors.As(err, &header) || errors.As(err, &verify) || errors.As(err, &unknown) ||
		errors.As(err, &host) || errors.As(err, &invalid)
}

// process sends the commands of sends in one round trip: alone, or in a pipeline. once
// makes go-redis send them once.
func process(ctx context.Context, rdb redis.UniversalClient, sends []send, one bool) {
	cmd := func(s send) redis.Cmder {
		if one {
			return once{s.cmd}
		}
		return s.cmd
	}
	if len(sends) == 1 {
		_ = rdb.Process(ctx, cmd(sends[0]))
		return
	}
	pipe := rdb.Pipeline()
	for _, s := range sends {
		_ = pipe.Process(ctx, cmd(s))
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
}

// sendTries sends a batch with starts: each try once, and the commands that met an
// error go-redis would send them again after (tryAgain) go again, as many times as the
// client's MaxRetries, while ctx lasts. A start that a try may have reached Redis with
// (its error is no proof that it never ran: neverRan) is marked mayHaveRun, so that a
// later try's refused connection is not read as nothing stored. A pipeline that fails
// part way fails each of its commands with its error, and each goes again.
func sendTries(ctx context.Context, rdb redis.UniversalClient, sends []send) {
	retries := maxRetries(rdb)
	for try := 0; ; try++ {
		process(ctx, rdb, sends, true)
		var again []send
		for _, s := range sends {
			err := s.cmd.Err()
			if err == nil {
				continue
			}
			if _, none := neverRan(err); !none {
				if s.alone != nil {
					s.alone.mayHaveRun = true
				}
				for _, c := range s.calls {
					c.mayHaveRun = true
				}
			}
			if tryAgain(err) {
				again = append(again, s)
			}
		}
		if len(again) == 0 || try >= retries {
			return
		}
		t := time.NewTimer(retryBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		for _, s := range again {
			s.cmd.SetErr(nil)
		}
		sends = again
	}
}

// maxRetries is how many times the client sends a command again after an error
// (its MaxRetries); 1, hookflow's own, for a client of another kind.
func maxRetries(rdb redis.UniversalClient) int {
	n := 1
	switch c := rdb.(type) {
	case *redis.Client:
		n = c.Options().MaxRetries
	case *redis.ClusterClient:
		n = c.Options().MaxRetries
	}
	return max(n, 0)
}

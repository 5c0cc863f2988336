package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// redisRetry is how long a step whose api's state in Redis could not be read waits
// before it is tried again, give or take a quarter: about as long as a Redis Cluster
// takes to notice a failover, with the processes that share the api not all coming
// back at once.
const redisRetry = time.Second

// redisFailed is the error of a step's call that could not read, in Redis, what its
// api shares with every process (doing says what: its limits, its OAuth2 token), err
// being Redis's. When Redis did not answer (unreachable, or a failover under way),
// nothing was sent, and the call is held back as its limits hold it
// (workflows.Throttled, Reason "redis"): the step is queued again, counting no
// attempt, so that an outage of Redis uses up no step's retries and fails none that
// has none. An answer that lasts (a refusal such as NOPERM), or ctx ended, is the
// attempt's error.
func redisFailed(ctx context.Context, api, doing string, err error) error {
	failed := fmt.Errorf("api %q: %s: %w", api, doing, err)
	if ctx.Err() != nil || !redisDown(err) {
		return failed
	}
	after := redisRetry*3/4 + rand.N(redisRetry/2)
	return &workflows.Throttled{API: api, Reason: "redis", After: after, Err: failed}
}

// redisDown reports whether err, from a call to Redis, says it could not answer now:
// no connection, no reply in time, or a reply that a failover or a restart gives. A
// client closed (the process stopping), a reply not of the type asked for, or a
// refusal that lasts is not.
func redisDown(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		var nerr net.Error
		// A connection refused, reset or timed out; a pool with no connection free.
		return errors.As(err, &nerr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
			errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
	}
	_, moved := redis.IsMovedError(err)
	_, ask := redis.IsAskError(err)
	return moved || ask || redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMasterDownError(err) || redis.IsMaxClientsError(err) || redis.IsNoReplicasError(err)
}

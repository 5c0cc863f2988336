package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/engine"
)

// nodeReply is what one address answered a question hookflow asks at start.
type nodeReply[T any] struct {
	addr string
	val  T
	err  error
}

// askEach asks every address of addrs at once, and sends each answer as it comes: a
// node that holds its connection and answers nothing does not keep the others from
// being asked before the deadline. The channel holds every answer, so that no ask
// waits on a caller that stopped reading.
func askEach[T any](ctx context.Context, addrs []string, ask func(ctx context.Context, addr string) (T, error)) <-chan nodeReply[T] {
	answers := make(chan nodeReply[T], len(addrs))
	for _, addr := range addrs {
		go func() {
			v, err := ask(ctx, addr)
			answers <- nodeReply[T]{addr: addr, val: v, err: err}
		}()
	}
	return answers
}

// keepReason records why addr did not answer one try of a start, err; ctx is the
// try's. A try cut short by the start's deadline says less than the one before it
// (connection refused), which is kept; with none before, the address did not answer
// in time.
func keepReason(ctx context.Context, reasons map[string]error, addr string, err error) {
	if ctx.Err() == nil {
		reasons[addr] = err
		return
	}
	if reasons[addr] == nil {
		reasons[addr] = noAnswer(reachWithin)
	}
}

// reasonsOf says, for each address of addrs in turn, why it did not answer, with what
// that suggests of TLS for a URL of scheme (tlsHint).
func reasonsOf(addrs []string, reasons map[string]error, scheme string) string {
	var why []string
	for _, addr := range addrs {
		if reasons[addr] != nil {
			why = append(why, addr+": "+tlsHint(reasons[addr], scheme).Error())
		}
	}
	return strings.Join(why, "; ")
}

// deadlineSaid replaces go-redis's "context deadline exceeded", which names nothing,
// with how long the server had to answer, when that deadline, not ctx's, passed.
func deadlineSaid(ctx context.Context, err error, within time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return noAnswer(within)
	}
	return err
}

// noAnswer is a server that did not answer within its time.
type noAnswer time.Duration

func (d noAnswer) Error() string { return fmt.Sprintf("no answer within %v", time.Duration(d)) }

// clusterTold adds to err, the failure of the first commands hookflow sent to a Redis
// Cluster, what the cluster's nodes answer, as /readyz says it: which primary is
// refused, does not answer, or says cluster_state:fail, and which of shards shards
// (0: the default count) has no primary. A CLUSTERDOWN names none of them. On a
// single Redis, or a cluster that answers a check as serving, err is as it was.
func clusterTold(ctx context.Context, rdb redis.UniversalClient, shards int, err error) error {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return err
	}
	if shards <= 0 {
		shards = engine.DefaultClusterShards
	}
	if why := engine.CheckCluster(ctx, cc, shards); why != nil {
		return fmt.Errorf("%w; %v", err, why)
	}
	return err
}

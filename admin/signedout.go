package admin

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// SignedOut keeps the ids of browser sessions signed out before their end.
type SignedOut interface {
	// Add keeps id signed out until until, when its session would have ended anyway.
	Add(ctx context.Context, id string, until time.Time) error
	// Has reports whether id was signed out.
	Has(ctx context.Context, id string) (bool, error)
}

// signedOutPrefix starts the key that keeps a session signed out, followed by its id:
//
//	hf:signed-out:<id>  str  "1", expiring when the session would have ended
//
// It lives outside the shards: scripts never read it.
const signedOutPrefix = "hf:signed-out:"

// NewRedisSignedOut keeps signed-out sessions in Redis, where every process serving
// the admin API with the same tokens finds them: a session signed out at one is
// refused by all. A look costs one EXISTS, made only for a session cookie whose
// signature and end were found good.
func NewRedisSignedOut(rdb redis.Cmdable) SignedOut { return redisSignedOut{rdb} }

type redisSignedOut struct{ rdb redis.Cmdable }

func (s redisSignedOut) Add(ctx context.Context, id string, until time.Time) error {
	return s.rdb.Set(ctx, signedOutPrefix+id, "1", max(time.Until(until), time.Second)).Err()
}

func (s redisSignedOut) Has(ctx context.Context, id string) (bool, error) {
	n, err := s.rdb.Exists(ctx, signedOutPrefix+id).Result()
	if err != nil {
		// Said to whoever holds the session: a page that stops updating says why.
		return false, fmt.Errorf("Redis: %w", err)
	}
	return n > 0, nil
}

// memorySignedOut keeps signed-out sessions in this process's memory, for an admin
// API served by one process.
type memorySignedOut struct {
	mu  sync.Mutex
	ids map[string]time.Time // until when
}

func newMemorySignedOut() *memorySignedOut {
	return &memorySignedOut{ids: map[string]time.Time{}}
}

func (s *memorySignedOut) Add(_ context.Context, id string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, u := range s.ids { // what ended needs no keeping: at most one entry per sign-out
		if !u.After(now) {
			delete(s.ids, k)
		}
	}
	s.ids[id] = until
	return nil
}

func (s *memorySignedOut) Has(_ context.Context, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok, nil
}

// Interface guards.
var (
	_ SignedOut = redisSignedOut{}
	_ SignedOut = (*memorySignedOut)(nil)
)

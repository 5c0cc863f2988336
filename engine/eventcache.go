package engine

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// A worker resumes each unit of a run from the run's hash, event included. The items
// of a for_each step are units of one run, and a workflow step's item is leased
// several times (it starts its child, parks, wakes, reads the child's end): decoding
// the event, and Redis copying it, at every lease made the work of a for_each grow as
// its items times the event's size, which grows with the items. A large event is
// instead left out of the lease (lease.lua), and kept decoded, sealed, by each process
// that runs units of its run, with the credential values it holds: the units of a run
// share one read-only value.

// bigEvent is the size in bytes past which a run's event is left out of its leases and
// kept decoded in the process's cache. Smaller events are decoded at each lease, as
// cheaply as the cache would find them.
const bigEvent = 16 << 10

// eventCacheRuns and eventCacheBytes bound the events a process keeps decoded: the
// runs whose events it keeps, and the sum of their stored sizes (decoded, an event takes
// several times that). Past either, the least recently used go.
const (
	eventCacheRuns  = 64
	eventCacheBytes = 32 << 20
)

// eventStamp tells a run's stored event apart from another that had its run's id: a
// run's event is written when it starts (a run started again under the id of one
// dropped has another creation time), and once more when it succeeds with a shown
// form (lib.lua's hide_sensitive puts event_shown in its place, and deletes it).
// Nothing else writes it: a replay runs with the event the run started with.
type eventStamp struct {
	created string // the run's creation time, as its hash holds it
	size    int    // the event's length (HSTRLEN)
	shown   bool   // the run has an event_shown field
}

// cachedEvent is a run's event, decoded once and sealed, and the values of its
// credential fields and query parameters.
type cachedEvent struct {
	run   string
	stamp eventStamp
	done  chan struct{} // closed once ev or err is set
	text  string        // the stored event it was decoded from
	ev    *workflows.Event
	err   error
	// stale says that the event read from Redis was not the one stamped: the run ended
	// or went since its unit was leased. The unit reads it as it is now; it is not kept.
	stale bool
	// counted says that its stored size counts in the cache's bytes (loaded): only an
	// entry counted is counted down when it goes.
	counted bool

	credsOnce sync.Once
	creds     []string
}

// credentials are the values the event's credential fields and query parameters hold
// (EventCredentialValues), read once: the caller must not change them.
func (c *cachedEvent) credentials() []string {
	c.credsOnce.Do(func() { c.creds = workflows.EventCredentialValues(c.ev.Value(), nil) })
	return c.creds
}

// eventCache keeps the large events of the runs this process ran units of lately,
// decoded, by run id; at most maxRuns of them, of at most maxBytes stored bytes in all.
type eventCache struct {
	maxRuns, maxBytes int
	mu                sync.Mutex
	byRun             map[string]*list.Element // of *cachedEvent
	order             list.List                // most recently used first
	bytes             int                      // the stored sizes of the events loaded
	loads             int                      // events decoded, for tests
}

func newEventCache(maxRuns, maxBytes int) *eventCache {
	return &eventCache{maxRuns: maxRuns, maxBytes: maxBytes, byRun: map[string]*list.Element{}}
}

// eventRead reads a run's stored event from Redis, and reports whether the run still
// has the creation time and the event_shown field its stamp says.
type eventRead func() (text string, same bool, err error)

// get returns run's event as stamp st tells it, from the cache or decoded from text,
// the stored event if the caller has it, else from what load reads from Redis. Units
// of one run that miss it together wait for one of them to decode it.
func (c *eventCache) get(ctx context.Context, run string, st eventStamp, text string, load eventRead) (*cachedEvent, error) {
	c.mu.Lock()
	e := c.find(run, st, text)
	if e == nil {
		e = &cachedEvent{run: run, stamp: st, done: make(chan struct{})}
		if old, ok := c.byRun[run]; ok {
			c.remove(old)
		}
		c.byRun[run] = c.order.PushFront(e)
		c.loads++
		c.mu.Unlock()
		c.load(e, text, load)
		c.mu.Lock()
		c.loaded(e)
		c.mu.Unlock()
	} else {
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	if text != "" && e.text != text {
		// Another unit decoded it as stamped, but from another text: this one's text is
		// what its lease found, and is read as it is.
		ev, err := workflows.DecodeSealedEvent([]byte(text))
		if err != nil {
			return nil, workflows.Permanent(err)
		}
		return &cachedEvent{run: run, stamp: st, text: text, ev: ev}, nil
	}
	return e, nil
}

// find returns run's entry when it is for the event stamped st (and, once decoded,
// from text, when given), moved to the front; nil when there is none.
func (c *eventCache) find(run string, st eventStamp, text string) *cachedEvent {
	el, ok := c.byRun[run]
	if !ok {
		return nil
	}
	e := el.Value.(*cachedEvent)
	if e.stamp != st {
		return nil
	}
	select {
	case <-e.done:
		if e.err != nil || e.stale || text != "" && e.text != text {
			return nil
		}
	default: // being decoded: get compares the text once it is
	}
	c.order.MoveToFront(el)
	return e
}

// load decodes e's event from text, or from what load reads when text is "".
func (c *eventCache) load(e *cachedEvent, text string, load eventRead) {
	defer close(e.done)
	if text == "" {
		var err error
		var same bool
		if text, same, err = load(); err != nil {
			e.err = err
			return
		}
		e.stale = !same || len(text) != e.stamp.size
	}
	e.text = text
	ev, err := workflows.DecodeSealedEvent([]byte(text))
	if err != nil {
		e.err = workflows.Permanent(err)
		return
	}
	e.ev = ev
}

// loaded counts e, just decoded, against the bounds, or drops it when it failed or is
// stale.
func (c *eventCache) loaded(e *cachedEvent) {
	el, ok := c.byRun[e.run]
	if !ok || el.Value.(*cachedEvent) != e {
		return // replaced, or evicted, meanwhile
	}
	if e.err != nil || e.stale || len(e.text) > c.maxBytes {
		// One larger than all the cache may hold is read at each unit, as a small one
		// is decoded at each, rather than take every other run's place.
		c.remove(el)
		return
	}
	c.bytes += len(e.text)
	e.counted = true
	for c.order.Len() > c.maxRuns || c.bytes > c.maxBytes {
		c.remove(c.order.Back())
	}
}

// remove drops an entry.
func (c *eventCache) remove(el *list.Element) {
	e := c.order.Remove(el).(*cachedEvent)
	delete(c.byRun, e.run)
	if e.counted {
		c.bytes -= len(e.text)
		e.counted = false
	}
}

// eventOf is the event of j's run, for its worker to resume the run with, and the
// cache's entry of it when it is large (nil for a small one, decoded on its own).
func (e *Engine) eventOf(ctx context.Context, j *job) (*workflows.Event, *cachedEvent, error) {
	text := j.run["event"]
	if j.eventSize == 0 && len(text) <= bigEvent {
		ev, err := workflows.DecodeEvent([]byte(text))
		if err != nil {
			return nil, nil, workflows.Permanent(err)
		}
		return ev, nil, nil
	}
	id := j.run["id"]
	st := eventStamp{created: j.run["created"], size: j.eventSize, shown: j.run[eventShownField] != ""}
	if j.eventSize == 0 {
		st.size = len(text)
	}
	c, err := e.events.get(ctx, id, st, text, func() (string, bool, error) {
		// The event, and what else stamps it, read together: a run that ended with its
		// event's shown form of the same length, or was dropped and started again, since
		// the lease, is not taken for the one stamped.
		var event, created *redis.StringCmd
		var shown *redis.BoolCmd
		key := j.shard.run(id)
		_, err := e.q.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			event, created = p.HGet(ctx, key, "event"), p.HGet(ctx, key, "created")
			shown = p.HExists(ctx, key, eventShownField)
			return nil
		})
		got, gerr := event.Result()
		if errors.Is(gerr, redis.Nil) {
			return "", false, workflows.Permanent(fmt.Errorf("run %s has no event: it is gone", id))
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			return "", false, err
		}
		return got, created.Val() == st.created && shown.Val() == st.shown, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return c.ev, c, nil
}

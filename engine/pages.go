package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/hookflow/hookflow/workflows"
)

// pageStore keeps the pages a leased job's paginated step reads in the job's hash
// (scripts/page.lua), for the job's next lease of the same attempt: when the api's
// limits hold a page back, the step is handed back to the queue (deferred) and goes on
// from that page, holding no worker meanwhile; when its worker dies, the next one
// repeats at most the page it was reading, with the same Idempotency-Key. A retry drops
// them (scripts/retry.lua).
type pageStore struct {
	q *queue
	j *job
}

// pagesOf is the page store of j when its step reads pages; nil otherwise.
func (q *queue) pagesOf(j *job, step *workflows.Step) workflows.PageStore {
	if pg, ok := step.Action.(interface{ Paginate() *workflows.Paginate }); !ok || pg.Paginate() == nil {
		return nil
	}
	return &pageStore{q: q, j: j}
}

// keptPage is a workflows.KeptPage as the job's hash holds it: its items kept as JSON,
// decoded with integers exact, and its request apart (request:<n>), kept for the
// latest maxRecordedRequests pages only, as a record keeps no more.
type keptPage struct {
	Page  int             `json:"page"`
	URL   string          `json:"url"`
	Next  string          `json:"next"`
	Items json.RawMessage `json:"items,omitempty"`
}

func (s *pageStore) Kept(ctx context.Context) ([]workflows.KeptPage, map[string]any, error) {
	n := s.j.pages
	if n == 0 {
		return nil, nil, nil
	}
	fields := make([]string, 0, 2*n+1)
	for i := 1; i <= n; i++ {
		fields = append(fields, "page:"+strconv.Itoa(i), "request:"+strconv.Itoa(i))
	}
	fields = append(fields, "response")
	vals, err := s.q.rdb.HMGet(ctx, s.j.shard.job(s.j.id), fields...).Result()
	if err != nil {
		return nil, nil, err
	}
	out := make([]workflows.KeptPage, n)
	for i := range out {
		data, _ := vals[2*i].(string)
		var k keptPage
		if err := json.Unmarshal([]byte(data), &k); err != nil || k.Page != i+1 {
			return nil, nil, fmt.Errorf("page %d as kept cannot be read (%v)", i+1, err)
		}
		out[i] = workflows.KeptPage{Page: k.Page, URL: k.URL, Next: k.Next}
		if len(k.Items) > 0 {
			items, err := workflows.DecodeStored(k.Items)
			if out[i].Items, _ = items.([]any); err != nil || out[i].Items == nil {
				return nil, nil, fmt.Errorf("the items of page %d as kept cannot be read (%v)", i+1, err)
			}
		}
		if req, _ := vals[2*i+1].(string); req != "" {
			out[i].Request = &workflows.Request{}
			if err := json.Unmarshal([]byte(req), out[i].Request); err != nil {
				return nil, nil, fmt.Errorf("the request of page %d as kept cannot be read: %w", i+1, err)
			}
		}
	}
	data, _ := vals[2*n].(string)
	response, err := workflows.DecodeStored([]byte(data))
	if err != nil {
		return nil, nil, fmt.Errorf("the response of page %d as kept cannot be read: %w", n, err)
	}
	last, _ := response.(map[string]any)
	return out, last, nil
}

func (s *pageStore) Keep(ctx context.Context, p workflows.KeptPage, response map[string]any) error {
	if p.Page != s.j.pages+1 {
		return fmt.Errorf("page %d kept after page %d", p.Page, s.j.pages)
	}
	k := keptPage{Page: p.Page, URL: p.URL, Next: p.Next}
	if len(p.Items) > 0 {
		data, err := json.Marshal(p.Items)
		if err != nil {
			return err
		}
		k.Items = data
	}
	page, err := json.Marshal(k)
	if err != nil {
		return err
	}
	req, err := json.Marshal(p.Request)
	if err != nil {
		return err
	}
	resp, err := json.Marshal(response)
	if err != nil {
		return err
	}
	err = scriptError(pageScript.Run(ctx, s.q.rdb, []string{s.j.shard.job(s.j.id)},
		s.j.id, s.j.token, p.Page, page, req, resp, maxRecordedRequests).Err())
	if errors.Is(err, errStaleLease) {
		return fmt.Errorf("the step's job: %w", err)
	}
	if err != nil {
		return err
	}
	s.j.pages = p.Page
	return nil
}

var _ workflows.PageStore = (*pageStore)(nil)

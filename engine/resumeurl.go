package engine

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// A resume URL is Options.ResumeBase and a token (the public listener serves them under
// /resume/: triggers.Resumes). Its token names the workflow, the run
// and the wait step, and signs them with a key that every process sharing the Redis
// reads from it: any process can check a token, a token cannot be made without the
// key, and it stays valid across restarts. The workflow in the token finds the run's
// shard without a look in every shard.

// resumeKeyName holds the key resume tokens are signed with. It lives outside the
// shards: scripts never read it.
const resumeKeyName = "hf:resume-key"

// DefaultResumeBase is the base of resume URLs when Options.ResumeBase is not set:
// the public listener's default address.
const DefaultResumeBase = "http://localhost:8080/resume/"

// macLen is how many bytes of the HMAC-SHA256 a token keeps: 128 bits.
const macLen = 16

// resumeKeys loads the signing key once it is needed, and keeps it.
type resumeKeys struct {
	mu  sync.Mutex
	key []byte
}

// resumeKey returns the key resume tokens are signed with. The first process that
// needs one stores a random key in Redis; the others read it.
func (e *Engine) resumeKey(ctx context.Context) ([]byte, error) {
	e.keys.mu.Lock()
	defer e.keys.mu.Unlock()
	if e.keys.key != nil {
		return e.keys.key, nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	if err := e.q.rdb.SetNX(ctx, resumeKeyName, hex.EncodeToString(b[:]), 0).Err(); err != nil {
		return nil, fmt.Errorf("storing the resume key: %w", err)
	}
	s, err := e.q.rdb.Get(ctx, resumeKeyName).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the resume key: %w", err)
	}
	key, err := hex.DecodeString(s)
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("%s does not hold a resume key", resumeKeyName)
	}
	e.keys.key = key
	return key, nil
}

// waitRef is a wait step of a run, as a resume token names it.
type waitRef struct {
	workflow, run, step string
}

func sign(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)[:macLen]
}

// token is the resume token of a wait step.
func (w waitRef) token(key []byte) string {
	payload := w.workflow + "\n" + w.run + "\n" + w.step
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(sign(key, payload))
}

// errBadToken is a token that was not made with the key: it names no wait.
var errBadToken = errors.New("not a resume token")

// parseToken checks a token's signature and reads the wait it names. Its parts are
// decoded strictly, so that a token has one spelling: the last character of a part
// may carry bits that decoding drops (a signature's carries 4), which must be zero, as
// token writes them; and a line break, which decoding skips, is refused.
func parseToken(key []byte, token string) (waitRef, error) {
	if strings.ContainsAny(token, "\r\n") {
		return waitRef{}, errBadToken
	}
	enc := base64.RawURLEncoding.Strict()
	p, m, ok := strings.Cut(token, ".")
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(m)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, sign(key, string(payload))) {
		return waitRef{}, errBadToken
	}
	parts := strings.Split(string(payload), "\n")
	if len(parts) != 3 {
		return waitRef{}, errBadToken
	}
	return waitRef{workflow: parts[0], run: parts[1], step: parts[2]}, nil
}

// ResumeURL is the URL that resumes the wait step of run, a run of workflow: what
// resume_url("STEP") gives.
func (e *Engine) ResumeURL(ctx context.Context, workflow, run, step string) (string, error) {
	key, err := e.resumeKey(ctx)
	if err != nil {
		return "", err
	}
	return e.resumeBase + waitRef{workflow, run, step}.token(key), nil
}

// resumeURLs is resume_url for the steps of run r.
func (e *Engine) resumeURLs(r *runState) func(string) (string, error) {
	return func(step string) (string, error) {
		s := r.wf.WaitStep(step)
		if s == nil {
			return "", fmt.Errorf("resume_url(%q): workflow %s has no wait step %s", step, r.workflow, step)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return e.ResumeURL(ctx, r.workflow, r.id, s.Name)
	}
}

// isWait reports whether s is a wait step.
func isWait(s *workflows.Step) bool {
	_, ok := s.Action.(workflows.Waiter)
	return ok
}

// hasWait reports whether wf has a wait step.
func hasWait(wf *workflows.Workflow) bool {
	for _, steps := range [][]*workflows.Step{wf.Steps, wf.OnFailure} {
		for _, s := range steps {
			if isWait(s) {
				return true
			}
		}
	}
	return false
}

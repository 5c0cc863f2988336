package workflows

import "net/http"

// Reply is what a caller waiting for a run learns: a webhook with response = "sync".
// The run answers with the first step that can answer (a Responder) once it succeeded,
// else, when it ends, with the output of its last step that succeeded.
type Reply struct {
	RunID  string
	Status string // the run's status when it answered: running, succeeded or failed
	Step   string // the step whose output answers; "" when no step succeeded
	Output any
}

// Responder is an action whose output is an HTTP answer, such as a respond step: a
// webhook waiting for the run answers with it.
type Responder interface {
	Action
	// Response turns the step's recorded output into an answer.
	Response(output any) (status int, header http.Header, body []byte, err error)
}

// Answers reports whether step answers a waiting caller.
func (s *Step) Answers() bool {
	_, ok := s.Action.(Responder)
	return ok
}

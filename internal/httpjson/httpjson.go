// Package httpjson writes JSON answers, the format of every hookflow HTTP endpoint,
// and encodes the JSON bodies hookflow sends.
package httpjson

import (
	"net/http"

	"github.com/hookflow/hookflow/internal/jsonenc"
)

// Marshal encodes v as JSON as json.Marshal does, but leaves <, > and & as they are:
// the bodies hookflow sends and shows are read by APIs and people, not embedded in
// HTML, and "a&b" must arrive as "a&b", not "a\u0026b".
func Marshal(v any) ([]byte, error) {
	data, err := jsonenc.Append(nil, v, false)
	if err != nil {
		return nil, err
	}
	return data, nil
}

// line is v encoded as Marshal encodes it, and a newline.
func line(v any) ([]byte, error) {
	data, err := jsonenc.Append(nil, v, false)
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Write answers with status and v as JSON. A value that cannot be encoded is answered
// 500 with the reason, never with a status and an empty body.
func Write(w http.ResponseWriter, status int, v any) {
	data, err := line(v)
	if err != nil {
		status = http.StatusInternalServerError
		data, _ = line(map[string]string{"error": "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}

// Error answers with status and {"error": msg}.
func Error(w http.ResponseWriter, status int, msg string) {
	Write(w, status, map[string]string{"error": msg})
}

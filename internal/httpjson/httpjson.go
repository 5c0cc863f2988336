// Package httpjson writes JSON answers, the format of every hookflow HTTP endpoint.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write answers with status and v as JSON. A value that cannot be encoded is answered
// 500 with the reason, never with a status and an empty body.
func Write(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data, _ = json.Marshal(map[string]string{"error": "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// Error answers with status and {"error": msg}.
func Error(w http.ResponseWriter, status int, msg string) {
	Write(w, status, map[string]string{"error": msg})
}

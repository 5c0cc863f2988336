package workflows

import (
	"mime"
	"path/filepath"
	"strings"
)

// commonMedia are content types as most senders and APIs write them, with the media
// type mime.ParseMediaType gives for each: those need no parsing, which allocates a
// map of parameters every time.
var commonMedia = map[string]string{
	"application/json":                  "application/json",
	"application/json; charset=utf-8":   "application/json",
	"application/json;charset=utf-8":    "application/json",
	"application/json; charset=UTF-8":   "application/json",
	"application/x-www-form-urlencoded": "application/x-www-form-urlencoded",
	"text/plain":                        "text/plain",
	"text/plain; charset=utf-8":         "text/plain",
	"text/html; charset=utf-8":          "text/html",
}

// MediaType is the media type of a content type, lower-case and without parameters,
// as mime.ParseMediaType reads it.
func MediaType(contentType string) (string, error) {
	if m, ok := commonMedia[contentType]; ok {
		return m, nil
	}
	m, _, err := mime.ParseMediaType(contentType)
	return m, err
}

// IsJSONMedia reports whether media, a media type as MediaType gives it, is JSON:
// application/json or any +json type (application/vnd.github+json).
func IsJSONMedia(media string) bool {
	return media == "application/json" || strings.HasSuffix(media, "+json")
}

// FileContentType is the content type of a file of a body, by its extension, as
// hookflow run --event and a test's event { body = file("…") } read it: .json,
// .form, .txt and .xml. It is "" for any other extension.
func FileContentType(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return "application/json"
	case ".form":
		return "application/x-www-form-urlencoded"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".xml":
		return "application/xml"
	}
	return ""
}

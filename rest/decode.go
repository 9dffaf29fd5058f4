package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/rest/edge"
)

// errTooLarge is returned when a body exceeds the limit (413).
var errTooLarge = errors.New("request body exceeds 64 KiB")

// body is a decoded JSON object body whose fields are read one by one, so
// that a wrong type is reported under the field's own name. Absent and null
// fields read as nil ("unchanged"); unknown fields are ignored.
type body struct {
	fields map[string]json.RawMessage
	prefix string
	v      *model.Validator
}

// readBody decodes the request's JSON object body. An empty body is {}.
func readBody(r *http.Request) (*body, error) {
	raw, err := io.ReadAll(r.Body)
	if edge.IsTooLarge(err) {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, model.InvalidField("body", "could not be read")
	}
	b := &body{fields: map[string]json.RawMessage{}, v: &model.Validator{}}
	if len(bytes.TrimSpace(raw)) == 0 {
		return b, nil
	}
	if err := json.Unmarshal(raw, &b.fields); err != nil || b.fields == nil {
		return nil, model.InvalidField("body", "must be a JSON object")
	}
	return b, nil
}

func (b *body) raw(name string) (json.RawMessage, bool) {
	v, ok := b.fields[name]
	if !ok || string(v) == "null" {
		return nil, false
	}
	return v, true
}

func (b *body) str(name string) *string {
	v, ok := b.raw(name)
	if !ok {
		return nil
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		b.v.Check(false, b.prefix+name, "must be a string")
		return nil
	}
	return &s
}

func (b *body) integer(name string) *int {
	v, ok := b.raw(name)
	if !ok {
		return nil
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if d.Decode(&n) != nil {
		b.v.Check(false, b.prefix+name, "must be a whole number")
		return nil
	}
	i, err := n.Int64()
	if err != nil || i > 1<<31-1 || i < -(1<<31) {
		b.v.Check(false, b.prefix+name, "must be a whole number")
		return nil
	}
	x := int(i)
	return &x
}

func (b *body) uuid(name string) *uuid.UUID {
	s := b.str(name)
	if s == nil {
		return nil
	}
	id, err := uuid.Parse(*s)
	if err != nil {
		b.v.Check(false, b.prefix+name, "must be a UUID")
		return nil
	}
	return &id
}

// strings reads a string or an array of strings.
func (b *body) strings(name string) []string {
	v, ok := b.raw(name)
	if !ok {
		return nil
	}
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(v, &many) != nil {
		b.v.Check(false, b.prefix+name, "must be a string or an array of strings")
		return nil
	}
	return many
}

// object reads a nested object (nil when absent or null).
func (b *body) object(name string) *body {
	v, ok := b.raw(name)
	if !ok {
		return nil
	}
	nested := &body{fields: map[string]json.RawMessage{}, prefix: b.prefix + name + ".", v: b.v}
	if json.Unmarshal(v, &nested.fields) != nil || nested.fields == nil {
		b.v.Check(false, b.prefix+name, "must be an object")
		return nil
	}
	return nested
}

// err is the BAD_USER_INPUT error naming every field read wrongly, or nil.
func (b *body) err() error { return b.v.Err() }

// pathParam returns a path parameter, percent-decoded (chi matches on the
// raw path, so an encoded MAC such as aa%3Abb… arrives encoded).
func pathParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if strings.Contains(v, "%") {
		if d, err := url.PathUnescape(v); err == nil {
			return d
		}
	}
	return v
}

// pathID parses a UUID path parameter; BAD_USER_INPUT under its own name.
func pathID(r *http.Request, name string) (uuid.UUID, error) {
	s := pathParam(r, name)
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, model.InvalidField(name, "must be a UUID")
	}
	return id, nil
}

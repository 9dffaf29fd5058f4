// Package scalar holds the GraphQL scalar marshallers the schema binds:
// ID as a UUID, whose parse failures are domain BAD_USER_INPUT errors (so
// the error presenter can tell a bad argument from an internal failure).
package scalar

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// MarshalUUID writes a UUID as its canonical string.
func MarshalUUID(id uuid.UUID) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(id.String())) })
}

// UnmarshalUUID reads an ID argument; BAD_USER_INPUT unless it is a UUID.
func UnmarshalUUID(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if ok && len(s) == 36 {
		if id, err := uuid.Parse(s); err == nil {
			return id, nil
		}
	}
	return uuid.Nil, model.Errorf(model.CodeBadUserInput, "%s is not a valid id (a UUID)", truncate(v))
}

func truncate(v any) string {
	s := fmt.Sprintf("%q", fmt.Sprint(v))
	if len(s) > 60 {
		s = s[:57] + `…"`
	}
	return s
}

// MarshalTime writes a time as RFC 3339 in UTC, to the second — the format
// the REST layer uses, so both transports show the same value.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format(time.RFC3339)))
	})
}

// UnmarshalTime reads an RFC 3339 time; BAD_USER_INPUT otherwise.
func UnmarshalTime(v any) (time.Time, error) {
	if s, ok := v.(string); ok {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, model.Errorf(model.CodeBadUserInput, "%s is not an RFC 3339 time", truncate(v))
}

// Package scalar holds the GraphQL scalar marshallers the schema binds:
// ID as a UUID, whose parse failures are domain BAD_USER_INPUT errors (so
// the error presenter can tell a bad argument from an internal failure).
package scalar

import (
	"fmt"
	"io"
	"strconv"

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

package model

import (
	"fmt"
	"io"
	"strconv"
)

// GraphQL enum marshalling of the domain's enum types (gqlgen binds the
// schema's enums to them).

func unmarshalEnum[T ~string](v any, valid func(T) bool, name string) (T, error) {
	s, ok := v.(string)
	if !ok || !valid(T(s)) {
		return "", Errorf(CodeBadUserInput, "%q is not a valid %s", fmt.Sprint(v), name)
	}
	return T(s), nil
}

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *UnitStatus) UnmarshalGQL(v any) (err error) {
	*s, err = unmarshalEnum(v, UnitStatus.Valid, "UnitStatus")
	return err
}

// MarshalGQL implements graphql.Marshaler.
func (s UnitStatus) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (t *UnitUserType) UnmarshalGQL(v any) (err error) {
	*t, err = unmarshalEnum(v, UnitUserType.Valid, "UnitUserType")
	return err
}

// MarshalGQL implements graphql.Marshaler.
func (t UnitUserType) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(t))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *UnitUserStatus) UnmarshalGQL(v any) (err error) {
	*s, err = unmarshalEnum(v, UnitUserStatus.Valid, "UnitUserStatus")
	return err
}

// MarshalGQL implements graphql.Marshaler.
func (s UnitUserStatus) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (k *ChangeKind) UnmarshalGQL(v any) (err error) {
	*k, err = unmarshalEnum(v, ChangeKind.Valid, "ChangeKind")
	return err
}

// MarshalGQL implements graphql.Marshaler.
func (k ChangeKind) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(k))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *ChangeStatus) UnmarshalGQL(v any) (err error) {
	*s, err = unmarshalEnum(v, ChangeStatus.Valid, "ChangeStatus")
	return err
}

// MarshalGQL implements graphql.Marshaler.
func (s ChangeStatus) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(s))) }

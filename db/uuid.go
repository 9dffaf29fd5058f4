package db

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

// RegisterUUID makes m send and read google/uuid values as PostgreSQL's
// 16-byte binary uuids. pgx-google-uuid covers sending a uuid.UUID; but
// pgx tries a target's sql.Scanner before the wrappers that package adds,
// and *uuid.UUID is one, and it sends a *uuid.UUID through its
// driver.Valuer; without the codec below both go through the 36-character
// text form (format, allocate, parse — and for a pointer, a failed binary
// attempt that formats an error first).
func RegisterUUID(m *pgtype.Map) {
	pgxuuid.Register(m)
	m.RegisterType(&pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}})
}

type uuidCodec struct{ pgxuuid.UUIDCodec }

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return scanBinaryUUID{}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		switch value.(type) {
		case uuid.UUID, *uuid.UUID:
			return encodeBinaryUUID{}
		}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

type encodeBinaryUUID struct{}

func (encodeBinaryUUID) Encode(value any, buf []byte) ([]byte, error) {
	switch v := value.(type) {
	case uuid.UUID:
		return append(buf, v[:]...), nil
	case *uuid.UUID:
		if v == nil {
			return nil, nil // NULL
		}
		return append(buf, v[:]...), nil
	}
	return nil, fmt.Errorf("cannot encode %T as a uuid", value)
}

type scanBinaryUUID struct{}

func (scanBinaryUUID) Scan(src []byte, dst any) error {
	if src == nil {
		return fmt.Errorf("cannot scan NULL into *uuid.UUID")
	}
	if len(src) != 16 {
		return fmt.Errorf("invalid length for uuid: %d", len(src))
	}
	copy(dst.(*uuid.UUID)[:], src)
	return nil
}

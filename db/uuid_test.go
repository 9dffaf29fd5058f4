package db_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
)

func TestUUIDCodec(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(dbtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	db.RegisterUUID(conn.TypeMap())

	want := uuid.New()
	var got uuid.UUID
	var null, some *uuid.UUID
	var list []uuid.UUID
	var text string
	err = conn.QueryRow(ctx, `SELECT $1::uuid, NULL::uuid, $1::uuid, ARRAY[$1::uuid, $1::uuid], $1::uuid::text`, want).
		Scan(&got, &null, &some, &list, &text)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || null != nil || some == nil || *some != want || len(list) != 2 || list[1] != want || text != want.String() {
		t.Fatalf("got %v %v %v %v %q, want %v", got, null, some, list, text, want)
	}
	// The binary plan is the one pgx picks, not the sql.Scanner text path.
	if plan := fmt.Sprintf("%T", conn.TypeMap().PlanScan(pgtype.UUIDOID, pgtype.BinaryFormatCode, &got)); !strings.Contains(plan, "scanBinaryUUID") {
		t.Fatalf("scan plan = %s", plan)
	}
	if err := conn.QueryRow(ctx, `SELECT NULL::uuid`).Scan(&got); err == nil {
		t.Fatal("NULL scanned into uuid.UUID")
	}
	// A *uuid.UUID goes out in binary too, nil as NULL.
	var same, isNull bool
	if err := conn.QueryRow(ctx, `SELECT $1::uuid = $2, $3::uuid IS NULL`, &want, want, (*uuid.UUID)(nil)).Scan(&same, &isNull); err != nil || !same || !isNull {
		t.Fatalf("pointer parameters: %v %v %v", same, isNull, err)
	}
	for _, v := range []any{want, &want} {
		if plan := fmt.Sprintf("%T", conn.TypeMap().PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, v)); !strings.Contains(plan, "encodeBinaryUUID") {
			t.Fatalf("encode plan for %T = %s", v, plan)
		}
	}
	var ids []uuid.UUID
	rows, _ := conn.Query(ctx, `SELECT x FROM unnest($1::uuid[]) AS x`, []uuid.UUID{want, uuid.Nil})
	ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil || len(ids) != 2 || ids[0] != want || ids[1] != uuid.Nil {
		t.Fatalf("round trip of a uuid array: %v %v", ids, err)
	}
}

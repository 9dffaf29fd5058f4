package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// outputFormat takes "-o table" / "--output table" (or json, the default)
// out of args: the JSON object stays the contract (SPEC §7); a table is
// for people.
func outputFormat(args []string) (rest []string, table bool, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a != "-o" && a != "--output" && !strings.HasPrefix(a, "-o=") && !strings.HasPrefix(a, "--output=") {
			rest = append(rest, a)
			continue
		}
		v, hasValue := "", false
		if _, after, ok := strings.Cut(a, "="); ok {
			v, hasValue = after, true
		} else if i+1 < len(args) {
			i++
			v, hasValue = args[i], true
		}
		switch {
		case !hasValue:
			return nil, false, usagef("%s needs json or table", a)
		case v == "table":
			table = true
		case v != "json":
			return nil, false, usagef("%s: %q is not json or table", a, v)
		}
	}
	return rest, table, nil
}

// writeTable prints a command's output for people: lists of objects as
// aligned columns in a human order (see columns), each list cell at most
// maxCell characters, then everything else as "key  value"
// lines below the lists they describe (a list's total after its rows).
func writeTable(w io.Writer, out any) error {
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var scalars []string
	printed := false
	for _, k := range keyOrder(b) {
		var rows []json.RawMessage
		if json.Unmarshal(v[k], &rows) != nil || len(rows) == 0 || !isObject(rows[0]) {
			scalars = append(scalars, k)
			continue
		}
		cols := columns(keyOrder(rows[0]))
		heads := make([]string, len(cols))
		for i, c := range cols {
			heads[i] = strings.ToUpper(c)
		}
		if printed {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s (%d)\n%s\n", k, len(rows), strings.Join(heads, "\t"))
		for _, r := range rows {
			var m map[string]any
			_ = json.Unmarshal(r, &m)
			cells := make([]string, len(cols))
			for i, c := range cols {
				cells[i] = cut(c, cell(m[c]))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		printed = true
	}
	if printed && len(scalars) > 0 {
		fmt.Fprintln(tw)
	}
	for _, k := range scalars {
		var x any
		_ = json.Unmarshal(v[k], &x)
		fmt.Fprintf(tw, "%s\t%s\n", k, cell(x))
	}
	return tw.Flush()
}

// first are the columns a person reads a row by, in this order; ids, long
// and rarely read, go last; every other column keeps its place between.
var first = []string{"number", "name", "userName", "status", "kind", "type", "macAddress", "displayName", "profile", "address"}

// columns orders a row's keys for people (see first).
func columns(keys []string) []string {
	rank := func(k string) int {
		if i := slices.Index(first, k); i >= 0 {
			return i
		}
		if k == "id" || strings.HasSuffix(k, "Id") {
			return len(first) + 1
		}
		return len(first)
	}
	out := slices.Clone(keys)
	slices.SortStableFunc(out, func(a, b string) int { return rank(a) - rank(b) })
	return out
}

// keyOrder is the keys of a JSON object in the order they are written.
func keyOrder(obj []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := t.(string)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
		keys = append(keys, k)
	}
	return keys
}

func isObject(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

// maxCell bounds a list cell's width: an id (36) fits, a long detail is
// cut. Secrets are never cut: a cut passphrase would read as a wrong one.
const maxCell = 40

var uncut = map[string]bool{"passphrase": true, "secret": true, "guestSecret": true, "portalSecret": true, "key": true}

func cut(col, s string) string {
	if r := []rune(s); len(r) > maxCell && !uncut[col] {
		return string(r[:maxCell-1]) + "…"
	}
	return s
}

// cell is a value on one line: strings as they are (line breaks and tabs
// as spaces), null as "-", the rest as compact JSON.
func cell(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		s = x
	default:
		b, _ := json.Marshal(x)
		s = string(b)
	}
	return oneLine.Replace(s)
}

var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ")

package main

import (
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
// aligned columns, everything else as "key  value" lines.
func writeTable(w io.Writer, out any) error {
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	keys := sortedKeys(v)
	var lists []string
	for _, k := range keys {
		if rows, ok := v[k].([]any); ok && len(rows) > 0 {
			if _, isObj := rows[0].(map[string]any); isObj {
				lists = append(lists, k)
				continue
			}
		}
		fmt.Fprintf(tw, "%s\t%s\n", k, cell(v[k]))
	}
	for _, k := range lists {
		rows := v[k].([]any)
		cols := sortedKeys(rows[0].(map[string]any))
		fmt.Fprintf(tw, "\n%s (%d)\n%s\n", k, len(rows), strings.ToUpper(strings.Join(cols, "\t")))
		for _, r := range rows {
			m, _ := r.(map[string]any)
			cells := make([]string, len(cols))
			for i, c := range cols {
				cells[i] = cell(m[c])
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	}
	return tw.Flush()
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// cell is a value on one line: strings as they are, null as "-", the rest
// as compact JSON.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		return x
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

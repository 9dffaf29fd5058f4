package resolvers

import (
	"encoding/json"
	"unicode/utf8"
)

// decodeEnvelope is parseEnvelope's fast path: a request object in the
// plain shape clients send — the keys query, operationName, variables,
// extensions and documentId, each at most once and spelt exactly so, strings without
// \u escapes or bytes that are not UTF-8, values nested at most
// maxFastDepth deep — is decoded here in one pass without reflection.
// Anything else returns false, having decided nothing, and encoding/json
// decodes the body as before: so the fast path never accepts a body that
// encoding/json would refuse, and what it accepts it decodes to the same
// values (FuzzDecodeEnvelope checks both).
func decodeEnvelope(b []byte, env *envelope) bool {
	d := envDecoder{b: b}
	if !d.consume('{') {
		return false
	}
	var seen [5]bool
	if d.consume('}') {
		return d.end()
	}
	for {
		key, ok := d.str()
		if !ok || !d.consume(':') {
			return false
		}
		i := envelopeKey(key)
		if i < 0 || seen[i] {
			return false
		}
		seen[i] = true
		switch i {
		case 0, 1, 4:
			var s *string // null leaves it nil
			if !d.null() {
				v, ok := d.str()
				if !ok {
					return false
				}
				s = &v
			}
			switch i {
			case 0:
				env.Query = s
			case 1:
				env.OperationName = s
			default:
				env.DocumentID = s
			}
		case 2, 3:
			var m map[string]any
			if !d.null() {
				if d.peek() != '{' {
					return false
				}
				v, ok := d.value(0)
				if !ok {
					return false
				}
				m = v.(map[string]any)
			}
			if i == 2 {
				env.Variables = m
			} else {
				env.Extensions = m
			}
		}
		if d.consume(',') {
			continue
		}
		if d.consume('}') {
			return d.end()
		}
		return false
	}
}

// maxFastDepth bounds the nesting the fast path follows (encoding/json
// takes deeper values, more slowly).
const maxFastDepth = 32

func envelopeKey(k string) int {
	switch k {
	case "query":
		return 0
	case "operationName":
		return 1
	case "variables":
		return 2
	case "extensions":
		return 3
	case "documentId":
		return 4
	}
	return -1
}

type envDecoder struct {
	b []byte
	i int
}

func (d *envDecoder) skip() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *envDecoder) peek() byte {
	d.skip()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *envDecoder) consume(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

// end reports whether nothing but whitespace follows.
func (d *envDecoder) end() bool {
	d.skip()
	return d.i == len(d.b)
}

func (d *envDecoder) literal(s string) bool {
	if d.peek() == s[0] && len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

func (d *envDecoder) null() bool { return d.literal("null") }

// str reads a string: its bytes at once when it holds no escape, else
// with the two-character escapes decoded; \u escapes, control characters
// and bytes that are not UTF-8 make it give up.
func (d *envDecoder) str() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	start, ascii := d.i, true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return "", false
}

// escaped continues str from the first backslash of a string that began
// at start.
func (d *envDecoder) escaped(start int) (string, bool) {
	out := make([]byte, 0, d.i-start+64)
	out = append(out, d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(out) {
				return "", false
			}
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if d.i+1 >= len(d.b) {
				return "", false
			}
			var r byte
			switch d.b[d.i+1] {
			case '"', '\\', '/':
				r = d.b[d.i+1]
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			default: // \u, or not an escape at all
				return "", false
			}
			out = append(out, r)
			d.i += 2
			continue
		}
		out = append(out, c)
		d.i++
	}
	return "", false
}

// value reads any JSON value as encoding/json decodes it into an any with
// UseNumber: map[string]any, []any, string, json.Number, bool or nil.
func (d *envDecoder) value(depth int) (any, bool) {
	if depth >= maxFastDepth {
		return nil, false
	}
	switch c := d.peek(); {
	case c == '{':
		d.i++
		m := map[string]any{}
		if d.consume('}') {
			return m, true
		}
		for {
			k, ok := d.str()
			if !ok || !d.consume(':') {
				return nil, false
			}
			v, ok := d.value(depth + 1)
			if !ok {
				return nil, false
			}
			m[k] = v // a repeated key: the last wins, as in encoding/json
			if d.consume(',') {
				continue
			}
			if d.consume('}') {
				return m, true
			}
			return nil, false
		}
	case c == '[':
		d.i++
		a := []any{}
		if d.consume(']') {
			return a, true
		}
		for {
			v, ok := d.value(depth + 1)
			if !ok {
				return nil, false
			}
			a = append(a, v)
			if d.consume(',') {
				continue
			}
			if d.consume(']') {
				return a, true
			}
			return nil, false
		}
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.null()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, false
}

// number reads a number as JSON spells it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *envDecoder) number() (any, bool) {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.i < len(d.b) && d.b[d.i] >= '1' && d.b[d.i] <= '9':
		d.digits()
	default:
		return nil, false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if !d.digits() {
			return nil, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if !d.digits() {
			return nil, false
		}
	}
	return json.Number(d.b[start:d.i]), true
}

// digits reads one or more decimal digits.
func (d *envDecoder) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

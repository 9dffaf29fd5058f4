package resolvers

import (
	"encoding/json"
	"reflect"
	"testing"
)

// envelopeSeeds are request bodies in the shapes clients send, and near
// misses of each that the fast path must leave to encoding/json.
var envelopeSeeds = []string{
	`{"query":"query($p: ID!) { unit(propertyId: $p) { id number } }","variables":{"p":"d1addf0b-fa43-4974-ac8b-ee5617b516ca"}}`,
	"{\"query\":\"query Q {\\n  unit(propertyId: \\\"x\\\") {\\n\\tid\\n  }\\n}\",\"operationName\":\"Q\",\"variables\":null}",
	` { "query" : "{ a }" , "extensions" : { "persistedQuery" : { "version" : 1 , "sha256Hash" : "ab" } } } ` + "\n",
	`{"variables":{"n":-12.5e+3,"z":0,"b":[true,false,null,[],{}],"s":"é ü","o":{"k":{"k":[1,2,{"x":"y"}]}}}}`,
	`{}`,
	`{"variables":{"a":1,"a":2}}`,
	`{"query":null,"operationName":null,"variables":null,"extensions":null}`,
	// Left to encoding/json: it accepts them, or refuses them.
	`{"Query":"{ a }"}`,
	`{"query":"{ a }","query":"{ b }"}`,
	`{"query":"{ a }","other":1}`,
	`{"query":"\u0041"}`,
	`{"query":"{ a }"} x`,
	`{"query":"{ a }"}{}`,
	`{"query":1}`,
	`{"variables":[]}`,
	`{"variables":{"n":01}}`,
	`{"variables":{"n":1.}}`,
	`{"variables":{"n":-}}`,
	"{\"query\":\"\xff\"}",
	"{\"query\":\"a\tb\"}",
	`{"query":"{ a }",}`,
	`{"variables":{"a":tru}}`,
	`[]`,
	``,
}

func stdEnvelope(b []byte) (envelope, bool) {
	var env envelope
	ok := decodeEnvelopeJSON(b, &env)
	return env, ok
}

// TestDecodeEnvelopeAgreesWithEncodingJSON: every body the fast path takes,
// encoding/json takes too, with the same values; the plain shapes are
// taken by the fast path, the near misses are not.
func TestDecodeEnvelopeAgreesWithEncodingJSON(t *testing.T) {
	fast := 0
	for _, s := range envelopeSeeds {
		var got envelope
		if !decodeEnvelope([]byte(s), &got) {
			continue
		}
		fast++
		want, ok := stdEnvelope([]byte(s))
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: fast path %+v, encoding/json %+v (ok %v)", s, got, want, ok)
		}
	}
	// parseEnvelope answers as encoding/json on every seed, whether the
	// fast path took it, or began it and left it.
	for _, s := range envelopeSeeds {
		var got envelope
		ok := parseEnvelope([]byte(s), &got)
		want, wantOK := stdEnvelope([]byte(s))
		if ok != wantOK || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: parseEnvelope %+v (ok %v), encoding/json %+v (ok %v)", s, got, ok, want, wantOK)
		}
	}
	if fast != 7 {
		t.Errorf("the fast path took %d of the seeds, want the 7 plain ones", fast)
	}
	// The decoded values are encoding/json's types.
	var env envelope
	if !decodeEnvelope([]byte(envelopeSeeds[3]), &env) {
		t.Fatal("not taken")
	}
	if n, ok := env.Variables["n"].(json.Number); !ok || n != "-12.5e+3" {
		t.Errorf("n = %#v, want json.Number", env.Variables["n"])
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got envelope
		if !decodeEnvelope(b, &got) {
			return
		}
		want, ok := stdEnvelope(b)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast path %+v, encoding/json %+v (ok %v)", b, got, want, ok)
		}
	})
}

func BenchmarkParseEnvelope(b *testing.B) {
	body := []byte(envelopeSeeds[0])
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var env envelope
			if !decodeEnvelope(body, &env) {
				b.Fatal("not taken")
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var env envelope
			if !decodeEnvelopeJSON(body, &env) {
				b.Fatal("refused")
			}
		}
	})
}

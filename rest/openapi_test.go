package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/google/uuid"
	"github.com/residentportal/bff/rest"
)

func openAPI(tb testing.TB) *openapi3.T {
	tb.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("openapi.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("the document is not valid OpenAPI 3: %v", err)
	}
	return doc
}

// What portald serves at /v3/api-docs is openapi.yaml, as go generate
// converts it.
func TestOpenAPIJSONIsTheYAML(t *testing.T) {
	want, err := json.Marshal(openAPI(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(rest.OpenAPIJSON), want) {
		t.Fatal("openapi.json is not openapi.yaml converted: run go generate ./rest")
	}
}

func TestOpenAPIDescribesExactlyTheRoutes(t *testing.T) {
	doc := openAPI(t)
	documented := map[string]string{} // "METHOD path" → operationId
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op.OperationID
		}
	}
	for _, rt := range rest.Routes {
		id, ok := documented[rt.Method+" "+rt.Path]
		if !ok {
			t.Errorf("route %s %s (%s) has no operation in openapi.yaml", rt.Method, rt.Path, rt.OperationID)
			continue
		}
		if id != rt.OperationID {
			t.Errorf("%s %s: operationId %q in the document, %q in the route table", rt.Method, rt.Path, id, rt.OperationID)
		}
		op := doc.Paths.Value(rt.Path).GetOperation(rt.Method)
		secured := op.Security != nil && len(*op.Security) > 0
		if secured != rt.Token {
			t.Errorf("%s: token required %v in the route table, %v in the document", rt.OperationID, rt.Token, secured)
		}
		delete(documented, rt.Method+" "+rt.Path)
	}
	for op, id := range documented {
		t.Errorf("the document has %s (%s) with no route", op, id)
	}
	if len(rest.Routes) != 16 {
		t.Fatalf("%d routes, want the vendor's 16", len(rest.Routes))
	}
}

func TestAPIDocsServed(t *testing.T) {
	w := newWorld(t)
	r := w.do(t, "GET", "/v3/api-docs", nil)
	var doc map[string]any
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || json.Unmarshal(r.body, &doc) != nil {
		t.Fatalf("/v3/api-docs: %d %s", r.status, r.header.Get("Content-Type"))
	}
	ops := 0
	for _, item := range doc["paths"].(map[string]any) {
		ops += len(item.(map[string]any))
	}
	if doc["openapi"] != "3.0.3" || ops != 16 {
		t.Fatalf("served document: openapi %v, %d operations", doc["openapi"], ops)
	}
}

func init() {
	openapi3filter.RegisterBodyDecoder("image/png", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("image/svg+xml", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/css", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/hal+json", openapi3filter.JSONBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/vnd.ruckus.v1+json", openapi3filter.JSONBodyDecoder)
}

// TestResponsesMatchOpenAPI validates real responses of every operation,
// successes and errors, against the document with kin-openapi.
func TestResponsesMatchOpenAPI(t *testing.T) {
	doc := openAPI(t)
	w := newWorld(t)
	pid, qid := w.p.ID, w.q.ID
	auth := []string{"Authorization", w.token}
	ruckus := append([]string{"Accept", "application/vnd.ruckus.v1+json"}, auth...)
	type call struct {
		op           string
		method, path string
		params       map[string]string
		body         any
		header       []string
		status       int
	}
	userPath := func(u uuid.UUID, suffix string) string { return w.path("%s/units/users/%s%s", pid, u, suffix) }
	calls := []call{
		{"residentLogin", "POST", w.path("%s/units/logins", pid), nil, map[string]string{"hashedSecret": w.other.PortalSecret}, nil, 200},
		{"residentLogin", "POST", w.path("%s/units/logins", pid), nil, `{"hashedSecret":"nope"}`, nil, 401},
		{"residentLogin", "POST", w.path("%s/units/logins", pid), nil, `{}`, nil, 400},
		{"getTenantPortalAccess", "GET", w.path("%s/access", pid), nil, nil, nil, 200},
		{"getTenantPortalAccess", "GET", w.path("%s/access", uuid.New()), nil, nil, nil, 404},
		{"downloadFavicons", "GET", w.path("%s/files/favicons", pid), nil, nil, nil, 200},
		{"downloadFavicons", "GET", w.path("%s/files/favicons", qid), nil, nil, nil, 404},
		{"getPropertyStyles", "GET", w.path("%s/styles", pid), nil, nil, nil, 200},
		{"getPropertyStyles", "GET", w.path("bad/styles"), map[string]string{"propertyId": "bad"}, nil, nil, 400},
		{"residentFetchProperty", "GET", w.path("%s", pid), nil, nil, auth, 200},
		{"residentFetchProperty", "GET", w.path("%s", pid), nil, nil, nil, 401},
		{"residentDownloadPortalFile", "GET", w.path("%s/files/logo", pid), map[string]string{"type": "logo"}, nil, nil, 200},
		{"residentDownloadPortalFile", "GET", w.path("%s/files/banner", pid), map[string]string{"type": "banner"}, nil, nil, 400},
		{"residentFetchUiConfiguration", "GET", w.path("%s/uiConfigurations", pid), nil, nil, nil, 200},
		{"residentFetchUnit", "GET", w.path("%s/units", pid), nil, nil, auth, 200},
		{"residentFetchUnit", "GET", w.path("%s/units", qid), nil, nil, []string{"Authorization", w.qToken}, 200},
		{"residentEditUnit", "PUT", w.path("%s/units", pid), nil, `{"description":"x","_links":{}}`, auth, 200},
		{"residentEditUnit", "PUT", w.path("%s/units", pid), nil, `{"number":"9"}`, auth, 403},
		{"residentEditUnit", "PUT", w.path("%s/units", pid), nil, map[string]any{"guestSecret": w.linked.Passphrase}, auth, 409},
		{"residentEditUnit", "PUT", w.path("%s/units", pid), nil, `{"x":"` + strings.Repeat("y", 70<<10) + `"}`, auth, 413},
		{"residentFetchUnitDevices", "GET", w.path("%s/units/devices?type=GUEST", pid), nil, nil, auth, 200},
		{"residentFetchUnitDevices", "GET", w.path("%s/units/devices", pid), nil, nil, auth, 400},
		{"residentRemoveDevice", "DELETE", w.path("%s/units/devices/02:00:00:00:00:02", pid), map[string]string{"deviceId": "02:00:00:00:00:02"}, nil, auth, 200},
		{"residentRemoveDevice", "DELETE", w.path("%s/units/devices/02:00:00:00:00:02", pid), map[string]string{"deviceId": "02:00:00:00:00:02"}, nil, auth, 404},
		{"queryUnitUsers", "POST", w.path("%s/units/users/query", pid), nil, `{"sortFields":"userName"}`, auth, 200},
		{"queryUnitUsers", "POST", w.path("%s/units/users/query", pid), nil, `{"page":3}`, ruckus, 200},
		{"queryUnitUsers", "POST", w.path("%s/units/users/query", pid), nil, `{"pageSize":1000}`, auth, 400},
		{"getUnitUser", "GET", userPath(w.linked.ID, ""), map[string]string{"userId": w.linked.ID.String()}, nil, ruckus, 200},
		{"getUnitUser", "GET", userPath(w.other.Unit.UnitUserID, ""), map[string]string{"userId": w.other.Unit.UnitUserID.String()}, nil, auth, 404},
		{"updateUnitUser", "PUT", userPath(w.linked.ID, ""), map[string]string{"userId": w.linked.ID.String()}, `{"email":"den@example.org"}`, auth, 200},
		{"updateUnitUser", "PUT", userPath(w.linked.ID, ""), map[string]string{"userId": w.linked.ID.String()}, `{"email":"den@example.org"}`, auth, 200},
		{"updateUnitUser", "PUT", userPath(w.linked.ID, ""), map[string]string{"userId": w.linked.ID.String()}, `{"type":"UNIT"}`, auth, 400},
		{"getUnitUserDevices", "GET", userPath(w.unit.Unit.UnitUserID, "/devices"), map[string]string{"userId": w.unit.Unit.UnitUserID.String()}, nil, auth, 200},
		{"removeUnitUserDevice", "DELETE", userPath(w.linked.ID, "/devices/02:00:00:00:00:03"), map[string]string{"userId": w.linked.ID.String(), "deviceId": "02:00:00:00:00:03"}, nil, auth, 200},
		{"removeUnitUserDevice", "DELETE", userPath(w.linked.ID, "/devices/zz"), map[string]string{"userId": w.linked.ID.String(), "deviceId": "zz"}, nil, auth, 400},
	}
	seen := map[string]bool{}
	for i, c := range calls {
		t.Run(fmt.Sprintf("%02d_%s_%d", i, c.op, c.status), func(t *testing.T) {
			var rt rest.Route
			for _, r := range rest.Routes {
				if r.OperationID == c.op {
					rt = r
				}
			}
			resp := w.do(t, c.method, c.path, c.body, c.header...)
			if resp.status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.status, c.status, resp.body)
			}
			params := map[string]string{"propertyId": strings.Split(strings.TrimPrefix(c.path, "/residents/properties/"), "/")[0]}
			for k, v := range c.params {
				params[k] = v
			}
			req, _ := http.NewRequest(c.method, "http://localhost"+c.path, nil)
			for i := 0; i+1 < len(c.header); i += 2 {
				req.Header.Set(c.header[i], c.header[i+1])
			}
			item := doc.Paths.Value(rt.Path)
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params,
					Route: &routers.Route{Spec: doc, Path: rt.Path, PathItem: item, Method: c.method, Operation: item.GetOperation(c.method)}},
				Status: resp.status, Header: resp.header, Body: io.NopCloser(bytes.NewReader(resp.body)),
				Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
			}
			if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
				t.Fatalf("response does not match the document: %v\n%s", err, resp.body)
			}
			seen[c.op] = true
			// Control: the same response with a field the document does not
			// have is rejected, so the check above can fail.
			if strings.HasPrefix(resp.header.Get("Content-Type"), "application/") && bytes.HasPrefix(resp.body, []byte("{")) {
				in.Body = io.NopCloser(bytes.NewReader(append([]byte(`{"undocumented":1,`), resp.body[1:]...)))
				if openapi3filter.ValidateResponse(context.Background(), in) == nil {
					t.Fatal("the validator accepted an undocumented field")
				}
			}
		})
	}
	for _, rt := range rest.Routes {
		if !seen[rt.OperationID] {
			t.Errorf("no validated response of %s", rt.OperationID)
		}
	}
}

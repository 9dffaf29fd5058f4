package edge

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/residentportal/bff/graph/model"
)

// ErrorBody is the vendor API's error body, used for every 4xx/5xx.
type ErrorBody struct {
	Message          string             `json:"message"`
	DetailedMessage  string             `json:"detailedMessage"`
	Status           string             `json:"status"`
	Timestamp        string             `json:"timestamp"`
	ValidationErrors []model.FieldError `json:"validationErrors"`
}

// statusNames are Spring's HttpStatus names for the statuses this API uses.
var statusNames = map[int]string{
	400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
	405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
	415: "UNSUPPORTED_MEDIA_TYPE", 422: "UNPROCESSABLE_ENTITY", 429: "TOO_MANY_REQUESTS",
	500: "INTERNAL_SERVER_ERROR", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT",
}

// StatusText is "<code> <NAME>" as Spring writes it, e.g. "404 NOT_FOUND".
func StatusText(code int) string {
	name, ok := statusNames[code]
	if !ok {
		name = strings.ToUpper(strings.ReplaceAll(http.StatusText(code), " ", "_"))
	}
	return strconv.Itoa(code) + " " + name
}

// WriteError writes the vendor error body with status.
func WriteError(w http.ResponseWriter, status int, message, detailed string, fields []model.FieldError) {
	if fields == nil {
		fields = []model.FieldError{}
	}
	if detailed == "" {
		detailed = message
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Message: message, DetailedMessage: detailed, Status: StatusText(status),
		Timestamp: time.Now().UTC().Format(time.RFC3339), ValidationErrors: fields})
}

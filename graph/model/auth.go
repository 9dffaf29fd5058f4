package model

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// PrincipalKind says who is calling.
type PrincipalKind int

// Principal kinds.
const (
	// Resident holds a unit token: one unit of one property.
	Resident PrincipalKind = iota + 1
	// Manager holds a manager key: every unit of one property.
	Manager
)

// Principal is an authenticated caller. The HTTP edge puts it in the request
// context; the service layer authorises every operation against it.
type Principal struct {
	Kind       PrincipalKind
	PropertyID uuid.UUID
	// UnitID is the resident's unit (zero for managers).
	UnitID uuid.UUID
	// KeyID is the manager key's id (zero for residents).
	KeyID uuid.UUID
	// Expires is when the resident's token expires (zero for managers,
	// whose keys last until revoked).
	Expires time.Time
}

// UnitToken is the content of a signed unit token.
type UnitToken struct {
	PropertyID uuid.UUID
	UnitID     uuid.UUID
	// Generation is the unit's token generation at login; a portal-access
	// reset or a disable moves it on and so revokes the token.
	Generation int64
	ExpiresAt  time.Time
}

const tokenPayloadLen = 16 + 16 + 8 + 8

// SignToken encodes t as base64url(payload) "." base64url(HMAC-SHA256).
// Tokens are never stored: the signature is what makes them valid.
func (k *Keyring) SignToken(t UnitToken) string {
	payload := make([]byte, 0, tokenPayloadLen)
	payload = append(payload, t.PropertyID[:]...)
	payload = append(payload, t.UnitID[:]...)
	payload = binary.BigEndian.AppendUint64(payload, uint64(t.Generation))
	payload = binary.BigEndian.AppendUint64(payload, uint64(t.ExpiresAt.Unix()))
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(k.Sign(payload))
}

// ErrBadToken is the one answer to any token that is malformed, forged,
// expired or revoked, so that callers learn nothing from the difference.
var ErrBadToken = Errorf(CodeUnauthenticated, "invalid or expired token")

// ParseToken verifies a token's signature (in constant time) and expiry at
// now. UNAUTHENTICATED (ErrBadToken) otherwise.
func (k *Keyring) ParseToken(s string, now time.Time) (UnitToken, error) {
	var t UnitToken
	p, sig, ok := strings.Cut(s, ".")
	if !ok || len(s) > 256 {
		return t, ErrBadToken
	}
	// SECURITY: strict decoding refuses non-zero padding bits, so each
	// token has one encoding (otherwise the last character of a signature
	// had several spellings that all verified).
	enc := base64.RawURLEncoding.Strict()
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(sig)
	// SECURITY: the signature is checked before any field is trusted.
	if err1 != nil || err2 != nil || len(payload) != tokenPayloadLen || !k.Verify(payload, mac) {
		return t, ErrBadToken
	}
	copy(t.PropertyID[:], payload[0:16])
	copy(t.UnitID[:], payload[16:32])
	t.Generation = int64(binary.BigEndian.Uint64(payload[32:40]))
	t.ExpiresAt = time.Unix(int64(binary.BigEndian.Uint64(payload[40:48])), 0).UTC()
	if !now.Before(t.ExpiresAt) {
		return t, ErrBadToken
	}
	return t, nil
}

// Call is one call a rate limiter charges: a REST operation, or one root
// field of a GraphQL operation. Property is the property it acts on (its
// propertyId, "" when it names none); Public marks a call that needs no
// credential; Login marks a login, first held to the client's budget of
// failed logins.
type Call struct {
	Property      string
	Public, Login bool
}

// RequestInfo is what the HTTP edge knows of a request: its id and its
// client's address (TRUSTED_PROXIES considered). The edge puts one in the
// request's context once, and fills it in before any handler runs.
type RequestInfo struct {
	ID       string
	ClientIP string
	// Stream: the request opens a stream (a WebSocket upgrade, or
	// Server-Sent Events), which outlives request deadlines.
	Stream bool
	// SpanNamed: a layer below the edge named the request's span (GraphQL
	// names it after its operation), which the edge would otherwise name
	// after the route.
	SpanNamed bool
	// SharedLoginsRead: the rate limiter read the client's shared
	// failed-login budget (Redis) for this request's login and found room;
	// the login itself does not read it again.
	SharedLoginsRead atomic.Bool
}

type requestInfoKey struct{}

// WithRequestInfo returns ctx carrying info.
func WithRequestInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns the request information of ctx (nil if none).
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return info
}

// ClientIPFrom returns the client address of ctx ("" if unknown).
func ClientIPFrom(ctx context.Context) string {
	if info := RequestInfoFrom(ctx); info != nil {
		return info.ClientIP
	}
	return ""
}

package service

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// Store is the storage the service layer needs; *db.DB implements it.
type Store interface {
	AuthStore
	Ping(ctx context.Context) error
	PropertyByID(ctx context.Context, id uuid.UUID) (model.Property, error)
	PropertiesByIDs(ctx context.Context, ids []uuid.UUID) ([]model.Property, error)
	PropertyFile(ctx context.Context, propertyID uuid.UUID, t model.FileType) (model.PropertyFile, error)
	UnitAuthBySecret(ctx context.Context, propertyID uuid.UUID, secret string) (model.UnitAuth, error)
	UnitByID(ctx context.Context, scope model.Scope, id uuid.UUID) (model.Unit, error)
	UnitsByIDs(ctx context.Context, ids []uuid.UUID) ([]model.Unit, error)
	UnitPages(ctx context.Context, propertyIDs []uuid.UUID, page model.UnitPage) (map[uuid.UUID]model.Page[model.Unit], error)
	UpdateUnit(ctx context.Context, scope model.Scope, id uuid.UUID, upd model.UnitUpdate) (model.UnitUpdateResult, error)
	UnitUserByID(ctx context.Context, scope model.Scope, id uuid.UUID) (model.UnitUser, error)
	UnitUsersByIDs(ctx context.Context, ids []uuid.UUID) ([]model.UnitUser, error)
	UnitUserPages(ctx context.Context, unitIDs []uuid.UUID, page model.UserPage) (map[uuid.UUID]model.Page[model.UnitUser], error)
	UnitUsersPage(ctx context.Context, q model.UserKeysetQuery) (model.Page[model.UnitUser], error)
	UnitTree(ctx context.Context, scope model.Scope, id uuid.UUID, q model.TreeQuery) (model.UnitTree, error)
	QueryUnitUsers(ctx context.Context, q model.UserQuery) ([]model.UnitUser, int, error)
	UpdateUnitUser(ctx context.Context, scope model.Scope, id uuid.UUID, upd model.UnitUserUpdate) (model.UnitUserUpdateResult, error)
	DevicesByUnitIDs(ctx context.Context, unitIDs []uuid.UUID, userType *model.UnitUserType) ([]model.Device, error)
	DevicesByUserIDs(ctx context.Context, userIDs []uuid.UUID) ([]model.Device, error)
	RemoveDevice(ctx context.Context, scope model.Scope, unitID uuid.UUID, userID *uuid.UUID, mac string) (model.ChangeRequest, error)
	BlockedDevicesByUnitIDs(ctx context.Context, unitIDs []uuid.UUID) ([]model.BlockedDevice, error)
	AllowDevice(ctx context.Context, scope model.Scope, userID uuid.UUID, mac string) error
	ChangeRequestByID(ctx context.Context, scope model.Scope, id uuid.UUID) (model.ChangeRequest, error)
	ChangeRequestPages(ctx context.Context, unitIDs []uuid.UUID, limit int, before *int64, status *model.ChangeStatus, skipTotal bool) (map[uuid.UUID]model.Page[model.ChangeRequest], error)
	CompleteChangeRequest(ctx context.Context, propertyID, id uuid.UUID, result model.ChangeStatus, detail *string) (model.ChangeRequest, bool, error)
	NASClients(ctx context.Context) ([]model.NASClient, error)
	NASList(ctx context.Context, propertyID uuid.UUID) ([]model.NAS, error)
	WifiCandidates(ctx context.Context, propertyID uuid.UUID, limit int) ([]model.WifiDevice, error)
	WifiDevices(ctx context.Context, propertyID uuid.UUID, limit int) ([]model.WifiDevice, error)
	AddDevice(ctx context.Context, scope model.Scope, n model.NewDevice) (model.Device, error)
	WifiDevicesByMAC(ctx context.Context, propertyID uuid.UUID, mac string) ([]model.WifiDevice, error)
	Accounting(ctx context.Context, a model.Accounting) (int, error)
	EndSessions(ctx context.Context, nasID uuid.UUID) (int, error)
	SetUnitVLAN(ctx context.Context, property *uuid.UUID, id uuid.UUID, vlan *int) (model.Unit, error)
}

// ServerVersion is reported by login.
const ServerVersion = "1.0.0"

// Service is the one service layer. Safe for concurrent use.
type Service struct {
	store         Store
	auth          *Authenticator
	keys          *model.Keyring
	now           func() time.Time
	tokenTTL      time.Duration
	loginFailures LoginFailures
	completed     func(model.ChangeStatus, time.Duration)
	events        *Events
	pmks          *pmkCache
	wifi          *wifiTables
}

// Store is the storage the service reads and writes: the GraphQL loaders'
// batch functions read through it too (resolvers.newBatches), which keep
// no rules of their own: each is reached after an access check.
func (s *Service) Store() Store { return s.store }

// LoginFailures is the per-client budget of failed logins (the rate
// limiter keeps it).
type LoginFailures interface {
	// BeginLogin spends one of the client's failed logins before a login is
	// evaluated (ok false, and how long to wait, when none is left);
	// finish is told whether the login was a failed guess (when it was
	// not, the failed login is given back).
	BeginLogin(ctx context.Context) (finish func(failed bool), wait time.Duration, ok bool)
}

// Options configure a Service.
type Options struct {
	TokenTTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// LoginFailures, when set, is told of every refused login.
	LoginFailures LoginFailures
	// ChangeCompleted, when set, is told of every change request the Wi-Fi
	// side completes, with the time from its creation (a metric).
	ChangeCompleted func(result model.ChangeStatus, sinceCreated time.Duration)
	// Events, when set, feeds subscriptions (see Events); without it
	// subscribing is UNAVAILABLE.
	Events *Events
}

// New returns the service over store, minting tokens with keys.
func New(store Store, keys *model.Keyring, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 12 * time.Hour
	}
	return &Service{store: store, keys: keys, pmks: newPMKCache(), now: opts.Now, tokenTTL: opts.TokenTTL,
		auth: NewAuthenticator(keys, store, opts.Now), loginFailures: opts.LoginFailures, completed: opts.ChangeCompleted,
		events: opts.Events, wifi: newWifiTables(opts.Events)}
}

// Authenticator is the service's authenticator (the HTTP edge attaches
// credentials with it; the revocation listener feeds it).
func (s *Service) Authenticator() *Authenticator { return s.auth }

// Ready reports whether the database answers (UNAVAILABLE otherwise).
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// access authorises the caller for propertyID and returns the scope it may
// touch there. Errors: UNAUTHENTICATED (no or bad credential, or a
// credential of another property).
func (s *Service) access(ctx context.Context, propertyID uuid.UUID) (model.Principal, model.Scope, error) {
	p, err := principal(ctx)
	if err != nil {
		return p, model.Scope{}, err
	}
	// SECURITY: a credential is valid for its own property only; any other
	// property answers as if the credential were wrong.
	if p.PropertyID != propertyID {
		return p, model.Scope{}, model.Errorf(model.CodeUnauthenticated, "the credential is not valid for this property")
	}
	if p.Kind == model.Resident {
		return p, model.UnitScope(p.PropertyID, p.UnitID), nil
	}
	return p, model.PropertyScope(p.PropertyID), nil
}

// targetUnit is the unit an operation acts on: the resident's own unit, or
// the unit a manager names. BAD_USER_INPUT when a manager names none;
// NOT_FOUND when a resident names another unit.
func targetUnit(p model.Principal, unitID *uuid.UUID) (uuid.UUID, error) {
	if p.Kind == model.Resident {
		// SECURITY: a resident's unit is the token's; another id is not found.
		if unitID != nil && *unitID != p.UnitID {
			return uuid.Nil, model.ErrNotFound("unit")
		}
		return p.UnitID, nil
	}
	if unitID == nil {
		return uuid.Nil, model.InvalidField("unitId", "is required with a manager key")
	}
	return *unitID, nil
}

// --- public operations -----------------------------------------------------

// PortalAccess returns the property for its public portal-access answer
// (loginText, portalAllowed). No credential needed. NOT_FOUND.
func (s *Service) PortalAccess(ctx context.Context, propertyID uuid.UUID) (model.Property, error) {
	return s.store.PropertyByID(ctx, propertyID)
}

// UiConfiguration returns the property for its public UI configuration.
// No credential needed. NOT_FOUND.
func (s *Service) UiConfiguration(ctx context.Context, propertyID uuid.UUID) (model.Property, error) {
	return s.store.PropertyByID(ctx, propertyID)
}

// PropertyFile returns a portal file (logo or favIcon). No credential
// needed. BAD_USER_INPUT for another type, NOT_FOUND when not uploaded.
func (s *Service) PropertyFile(ctx context.Context, propertyID uuid.UUID, fileType string) (model.PropertyFile, error) {
	if !model.FileType(fileType).Valid() {
		return model.PropertyFile{}, model.InvalidField("type", "must be logo or favIcon")
	}
	return s.store.PropertyFile(ctx, propertyID, model.FileType(fileType))
}

// LoginResult is a minted unit token.
type LoginResult struct {
	Token         string
	UnitID        uuid.UUID
	ExpiresAt     time.Time
	ServerVersion string
}

var errBadLogin = model.Errorf(model.CodeUnauthenticated, "invalid portal credentials")

// Login exchanges a unit's portal secret for a signed unit token.
// BAD_USER_INPUT for an empty secret; UNAUTHENTICATED, with one message, for
// a wrong secret, an unknown property, a disabled unit or a closed portal.
//
// SECURITY: every login is charged to its client's failed-login budget
// before the secret is looked at, and given back unless it was a wrong
// guess, so no number of logins in one request (GraphQL aliases) or in
// parallel evaluates more guesses than the budget holds. RATE_LIMITED when
// it is spent.
func (s *Service) Login(ctx context.Context, propertyID uuid.UUID, secret string) (LoginResult, error) {
	if s.loginFailures == nil {
		return s.login(ctx, propertyID, secret)
	}
	finish, wait, ok := s.loginFailures.BeginLogin(ctx)
	if !ok {
		return LoginResult{}, &model.Error{Code: model.CodeRateLimited, RetryAfter: wait,
			Message: "too many failed logins from this client; try again later"}
	}
	res, err := s.login(ctx, propertyID, secret)
	finish(model.ErrorCode(err) == model.CodeUnauthenticated)
	return res, err
}

func (s *Service) login(ctx context.Context, propertyID uuid.UUID, secret string) (LoginResult, error) {
	if strings.TrimSpace(secret) == "" {
		return LoginResult{}, model.InvalidField("hashedSecret", "is required")
	}
	if len(secret) > 512 {
		return LoginResult{}, errBadLogin
	}
	// SECURITY: the secret is found by its keyed digest through an index, so
	// no byte-by-byte comparison of secrets happens anywhere.
	u, err := s.store.UnitAuthBySecret(ctx, propertyID, secret)
	if model.ErrorCode(err) == model.CodeNotFound {
		return LoginResult{}, errBadLogin
	}
	if err != nil {
		return LoginResult{}, err
	}
	// SECURITY: disabled units and closed portals get no token.
	if u.Status != model.UnitEnabled || !u.PortalAllowed {
		return LoginResult{}, errBadLogin
	}
	exp := s.now().Add(s.tokenTTL).UTC().Truncate(time.Second)
	token := s.keys.SignToken(model.UnitToken{PropertyID: u.PropertyID, UnitID: u.UnitID, Generation: u.TokenGeneration, ExpiresAt: exp})
	return LoginResult{Token: token, UnitID: u.UnitID, ExpiresAt: exp, ServerVersion: ServerVersion}, nil
}

// --- authenticated operations ----------------------------------------------

// Property returns the caller's property. UNAUTHENTICATED, NOT_FOUND.
func (s *Service) Property(ctx context.Context, propertyID uuid.UUID) (model.Property, error) {
	if _, _, err := s.access(ctx, propertyID); err != nil {
		return model.Property{}, err
	}
	return s.store.PropertyByID(ctx, propertyID)
}

// Unit returns the resident's unit, or the unit a manager names.
// UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND.
func (s *Service) Unit(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID) (model.Unit, error) {
	scope, id, err := s.unitAccess(ctx, propertyID, unitID)
	if err != nil {
		return model.Unit{}, err
	}
	return s.store.UnitByID(ctx, scope, id)
}

// UnitTree is Unit with one page of the unit's users and, as q asks,
// those users' devices, a page of the unit's change requests and its
// property, all read in one round trip to the database.
func (s *Service) UnitTree(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID, q model.TreeQuery) (model.UnitTree, error) {
	scope, id, err := s.unitAccess(ctx, propertyID, unitID)
	if err != nil {
		return model.UnitTree{}, err
	}
	return s.store.UnitTree(ctx, scope, id, q)
}

// unitAccess is the caller's scope and the unit a read acts on (access,
// then targetUnit).
func (s *Service) unitAccess(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID) (model.Scope, uuid.UUID, error) {
	p, scope, err := s.access(ctx, propertyID)
	if err != nil {
		return scope, uuid.Nil, err
	}
	id, err := targetUnit(p, unitID)
	return scope, id, err
}

// RequireManager authorises a manager-only read of a property (its unit
// list). UNAUTHENTICATED, FORBIDDEN for a resident.
func (s *Service) RequireManager(ctx context.Context, propertyID uuid.UUID) error {
	// SECURITY: only a manager key lists a property's units.
	return s.requireManager(ctx, propertyID, "listing units needs a manager key")
}

// requireManager authorises a manager-only operation on a property; a
// resident gets FORBIDDEN with refusal. UNAUTHENTICATED.
func (s *Service) requireManager(ctx context.Context, propertyID uuid.UUID, refusal string) error {
	p, _, err := s.access(ctx, propertyID)
	if err != nil {
		return err
	}
	if p.Kind != model.Manager {
		return model.Errorf(model.CodeForbidden, "%s", refusal)
	}
	return nil
}

// UpdateUnit applies a read-modify-write update to the resident's unit (or a
// manager's named unit), TOKEN_RESET included, in one transaction.
// UNAUTHENTICATED, BAD_USER_INPUT, FORBIDDEN, NOT_FOUND, CONFLICT.
func (s *Service) UpdateUnit(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID, upd model.UnitUpdate) (model.UnitUpdateResult, error) {
	p, scope, err := s.access(ctx, propertyID)
	if err != nil {
		return model.UnitUpdateResult{}, err
	}
	if err := upd.Validate(); err != nil {
		return model.UnitUpdateResult{}, err
	}
	id, err := targetUnit(p, unitID)
	if err != nil {
		return model.UnitUpdateResult{}, err
	}
	return s.store.UpdateUnit(ctx, scope, id, upd)
}

// ResetPortalAccess rotates the unit's portal secret, revokes its tokens and
// queues a notification. UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND.
func (s *Service) ResetPortalAccess(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID) error {
	_, err := s.UpdateUnit(ctx, propertyID, unitID, model.UnitUpdate{ResetPortalAccess: true})
	return err
}

// ParseUserType checks a device-list type argument: exactly UNIT or GUEST.
func ParseUserType(field, t string) (model.UnitUserType, error) {
	switch ut := model.UnitUserType(t); ut {
	case model.UserTypeUnit, model.UserTypeGuest:
		return ut, nil
	}
	return "", model.InvalidField(field, "must be UNIT or GUEST")
}

// UnitDevices lists the devices of the unit's UNIT or GUEST identity (empty
// for GUEST where the property has no guest secret).
// UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND.
func (s *Service) UnitDevices(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID, userType model.UnitUserType) ([]model.Device, error) {
	p, scope, err := s.access(ctx, propertyID)
	if err != nil {
		return nil, err
	}
	if userType != model.UserTypeUnit && userType != model.UserTypeGuest {
		return nil, model.InvalidField("type", "must be UNIT or GUEST")
	}
	id, err := targetUnit(p, unitID)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.UnitByID(ctx, scope, id); err != nil {
		return nil, err
	}
	return s.store.DevicesByUnitIDs(ctx, []uuid.UUID{id}, &userType)
}

// RemoveUnitDevice removes a device (by MAC, any usual notation) from the
// unit, recording a change request. UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND.
func (s *Service) RemoveUnitDevice(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID, deviceID string) error {
	p, scope, err := s.access(ctx, propertyID)
	if err != nil {
		return err
	}
	mac, err := model.ParseMAC(deviceID)
	if err != nil {
		return model.InvalidField("deviceId", model.ErrorMessage(err))
	}
	id, err := targetUnit(p, unitID)
	if err != nil {
		return err
	}
	_, err = s.store.RemoveDevice(ctx, scope, id, nil, mac)
	return err
}

// UnitUserQuery is the vendor's unit-users query: page (0-based), pageSize
// (0 means 20; 1–100), sort fields and direction, an optional user filter.
type UnitUserQuery struct {
	UnitID   *uuid.UUID
	Page     int
	PageSize int
	Sort     []string
	Desc     bool
	UserID   *uuid.UUID
}

// DefaultPageSize and MaxPageSize bound the unit-users query.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// MaxPage bounds a page number (its offset stays below 10^8).
	MaxPage = 1_000_000
)

// UnitUserPage is one page of a unit's users.
type UnitUserPage struct {
	Users    []model.UnitUser
	Total    int
	Page     int
	PageSize int
	Sort     []string
	Desc     bool
}

// QueryUnitUsers returns one page of the unit's users, ordered by userId
// ascending unless asked otherwise. UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND.
func (s *Service) QueryUnitUsers(ctx context.Context, propertyID uuid.UUID, q UnitUserQuery) (UnitUserPage, error) {
	p, scope, err := s.access(ctx, propertyID)
	if err != nil {
		return UnitUserPage{}, err
	}
	var v model.Validator
	v.Check(q.Page >= 0, "page", "must not be negative")
	v.Check(q.Page <= MaxPage, "page", "must be at most "+strconv.Itoa(MaxPage))
	v.Check(q.PageSize >= 0 && q.PageSize <= MaxPageSize, "pageSize", "must be between 1 and 100 (0 means 20)")
	sort := make([]model.UserSortField, 0, len(q.Sort))
	for _, f := range q.Sort {
		v.Check(model.UserSortField(f).Valid(), "sortFields", "cannot sort by "+f+" (allowed: userId, userName, email, type, status)")
		sort = append(sort, model.UserSortField(f))
	}
	if err := v.Err(); err != nil {
		return UnitUserPage{}, err
	}
	if q.PageSize == 0 {
		q.PageSize = DefaultPageSize
	}
	if len(sort) == 0 {
		sort, q.Sort = []model.UserSortField{model.SortUserID}, []string{string(model.SortUserID)}
	}
	unitID, err := targetUnit(p, q.UnitID)
	if err != nil {
		return UnitUserPage{}, err
	}
	if _, err := s.store.UnitByID(ctx, scope, unitID); err != nil {
		return UnitUserPage{}, err
	}
	offset := q.Page * q.PageSize
	users, total, err := s.store.QueryUnitUsers(ctx, model.UserQuery{UnitID: unitID, UserID: q.UserID,
		Sort: sort, Desc: q.Desc, Offset: offset, Limit: q.PageSize})
	return UnitUserPage{Users: users, Total: total, Page: q.Page, PageSize: q.PageSize, Sort: q.Sort, Desc: q.Desc}, err
}

// UnitUser returns one of the unit's users (any of the property's for a
// manager). UNAUTHENTICATED, NOT_FOUND (also for another unit's user).
func (s *Service) UnitUser(ctx context.Context, propertyID, userID uuid.UUID) (model.UnitUser, error) {
	_, scope, err := s.access(ctx, propertyID)
	if err != nil {
		return model.UnitUser{}, err
	}
	return s.store.UnitUserByID(ctx, scope, userID)
}

// UpdateUnitUser applies a read-modify-write update to a unit user in one
// transaction and returns the change-request ids (nil where nothing of that
// kind changed). UNAUTHENTICATED, BAD_USER_INPUT, FORBIDDEN, NOT_FOUND, CONFLICT.
func (s *Service) UpdateUnitUser(ctx context.Context, propertyID, userID uuid.UUID, upd model.UnitUserUpdate) (model.UnitUserUpdateResult, error) {
	_, scope, err := s.access(ctx, propertyID)
	if err != nil {
		return model.UnitUserUpdateResult{}, err
	}
	if err := upd.Validate(); err != nil {
		return model.UnitUserUpdateResult{}, err
	}
	// Input before existence (the vendor's order of checks): a body userId
	// other than the path's is 400 even for a user that is not found.
	if upd.ID != nil && *upd.ID != userID {
		return model.UnitUserUpdateResult{}, model.InvalidField("userId", "does not match the user in the path")
	}
	return s.store.UpdateUnitUser(ctx, scope, userID, upd)
}

// UnitUserDevices lists a unit user's devices. UNAUTHENTICATED, NOT_FOUND.
func (s *Service) UnitUserDevices(ctx context.Context, propertyID, userID uuid.UUID) ([]model.Device, error) {
	if _, err := s.UnitUser(ctx, propertyID, userID); err != nil {
		return nil, err
	}
	return s.store.DevicesByUserIDs(ctx, []uuid.UUID{userID})
}

// RemoveUnitUserDevice removes one of a unit user's devices (by MAC),
// recording a change request. UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND
// (also when the device belongs to another user).
func (s *Service) RemoveUnitUserDevice(ctx context.Context, propertyID, userID uuid.UUID, deviceID string) error {
	_, scope, err := s.access(ctx, propertyID)
	if err != nil {
		return err
	}
	mac, err := model.ParseMAC(deviceID)
	if err != nil {
		return model.InvalidField("deviceId", model.ErrorMessage(err))
	}
	u, err := s.store.UnitUserByID(ctx, scope, userID)
	if err != nil {
		return err
	}
	_, err = s.store.RemoveDevice(ctx, scope, u.UnitID, &userID, mac)
	return err
}

// AllowUnitUserDevice lets a device removed from a unit user join with
// its passphrase again (SPEC §9.5): the page's "allow". UNAUTHENTICATED,
// BAD_USER_INPUT, NOT_FOUND (also when the user blocks no such device).
func (s *Service) AllowUnitUserDevice(ctx context.Context, propertyID, userID uuid.UUID, deviceID string) error {
	_, scope, err := s.access(ctx, propertyID)
	if err != nil {
		return err
	}
	mac, err := model.ParseMAC(deviceID)
	if err != nil {
		return model.InvalidField("deviceId", model.ErrorMessage(err))
	}
	return s.store.AllowDevice(ctx, scope, userID, mac)
}

// UnitUsersPage returns one keyset page of the unit's users (GraphQL's
// unitUsers). UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND.
func (s *Service) UnitUsersPage(ctx context.Context, propertyID uuid.UUID, unitID *uuid.UUID, q model.UserKeysetQuery) (model.Page[model.UnitUser], error) {
	p, scope, err := s.access(ctx, propertyID)
	if err != nil {
		return model.Page[model.UnitUser]{}, err
	}
	if q.Limit < 1 || q.Limit > MaxPageSize {
		return model.Page[model.UnitUser]{}, model.InvalidField("first", "must be between 1 and 100")
	}
	if q.UnitID, err = targetUnit(p, unitID); err != nil {
		return model.Page[model.UnitUser]{}, err
	}
	if _, err := s.store.UnitByID(ctx, scope, q.UnitID); err != nil {
		return model.Page[model.UnitUser]{}, err
	}
	return s.store.UnitUsersPage(ctx, q)
}

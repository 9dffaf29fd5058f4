package rest

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest/edge"
)

// api holds what the handlers need: the one service layer and the base of
// absolute links.
type api struct {
	svc  *service.Service
	base string
	log  *slog.Logger
}

// fail writes err as the vendor error body, its status from ErrorStatus.
// Internal errors are logged with the request id and shown as a fixed text.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errTooLarge) {
		edge.WriteError(w, http.StatusRequestEntityTooLarge, err.Error(), "", nil)
		return
	}
	code := model.ErrorCode(err)
	status, ok := ErrorStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if code == model.CodeRateLimited {
		w.Header().Set("Retry-After", retryAfter(model.RetryAfter(err)))
	}
	if code == model.CodeInternal {
		a.log.ErrorContext(r.Context(), "internal error", "request_id", edge.RequestID(r.Context()), "error", err.Error())
	}
	msg := model.ErrorMessage(err)
	detailed := msg
	if fields := model.ErrorFields(err); len(fields) > 0 {
		parts := make([]string, len(fields))
		for i, f := range fields {
			parts[i] = f.Field + ": " + f.Message
		}
		detailed = strings.Join(parts, "; ")
	}
	edge.WriteError(w, status, msg, detailed, model.ErrorFields(err))
}

// retryAfter is a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// self is the absolute URL of the request's resource.
func (a *api) self(r *http.Request) string {
	u := a.base + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// negotiated is the media type of rows 12–15: the vendor's own when the
// client's Accept asks for it, JSON otherwise.
func negotiated(r *http.Request) string {
	if strings.Contains(r.Header.Get("Accept"), mediaRuckus) {
		return mediaRuckus
	}
	return mediaJSON
}

// authorized checks the credential against the path's property before any
// input is validated (the vendor's order: 401 before 400), and returns the
// property. A path property that is not even a UUID cannot be the
// credential's: 401 too.
func (a *api) authorized(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	if _, err := a.svc.Principal(r.Context()); err != nil {
		a.fail(w, r, err)
		return uuid.Nil, false
	}
	pid, err := pathID(r, "propertyId")
	if err != nil {
		a.fail(w, r, model.Errorf(model.CodeUnauthenticated, "the credential is not valid for this property"))
		return pid, false
	}
	if err := a.svc.Authorize(r.Context(), pid); err != nil {
		a.fail(w, r, err)
		return pid, false
	}
	return pid, true
}

// property parses the propertyId path parameter.
func (a *api) property(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := pathID(r, "propertyId")
	if err != nil {
		a.fail(w, r, err)
		return id, false
	}
	return id, true
}

// 1
func (a *api) residentLogin(w http.ResponseWriter, r *http.Request) {
	pid, ok := a.property(w, r)
	if !ok {
		return
	}
	b, err := readBody(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	secret := b.str("hashedSecret")
	if err := b.err(); err != nil {
		a.fail(w, r, err)
		return
	}
	if secret == nil {
		a.fail(w, r, model.InvalidField("hashedSecret", "is required"))
		return
	}
	res, err := a.svc.Login(r.Context(), pid, *secret)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mediaHAL, loginResponse{UnitGUID: res.UnitID.String(), Token: res.Token,
		ServerVersion: res.ServerVersion, ExpireDateTime: res.ExpiresAt.UTC().Format(time.RFC3339)})
}

// 2
func (a *api) getTenantPortalAccess(w http.ResponseWriter, r *http.Request) {
	pid, ok := a.property(w, r)
	if !ok {
		return
	}
	p, err := a.svc.PortalAccess(r.Context(), pid)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mediaJSON, accessResponse{LoginText: p.LoginText, PortalAllowed: p.PortalAllowed})
}

// 3
func (a *api) downloadFavicons(w http.ResponseWriter, r *http.Request) {
	a.serveFile(w, r, string(model.FileFavIcon))
}

// 6
func (a *api) residentDownloadPortalFile(w http.ResponseWriter, r *http.Request) {
	a.serveFile(w, r, pathParam(r, "type"))
}

func (a *api) serveFile(w http.ResponseWriter, r *http.Request, fileType string) {
	pid, ok := a.property(w, r)
	if !ok {
		return
	}
	f, err := a.svc.PropertyFile(r.Context(), pid, fileType)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	// SECURITY: served inline only as the image its bytes say it is (a file
	// stored before uploads were checked is offered as a download).
	if ct, ok := model.SniffImage(f.Data); ok {
		h.Set("Content-Type", ct)
		h.Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", f.FileName))
	} else {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", f.FileName))
	}
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(f.Data)
}

// 4
func (a *api) getPropertyStyles(w http.ResponseWriter, r *http.Request) {
	pid, ok := a.property(w, r)
	if !ok {
		return
	}
	p, err := a.svc.UiConfiguration(r.Context(), pid)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.WriteHeader(http.StatusOK)
	// The colours were validated as #RRGGBB when stored: nothing else can
	// reach the stylesheet.
	fmt.Fprintf(w, `:root {
  --portal-main-color: %[1]s;
  --portal-accent-color: %[2]s;
  --portal-separator-color: %[3]s;
  --portal-text-color: %[4]s;
}
body { color: %[4]s; }
.portal-header, .btn-primary { background-color: %[1]s; border-color: %[1]s; color: #ffffff; }
a, .portal-accent { color: %[2]s; }
.btn-accent { background-color: %[2]s; border-color: %[2]s; }
hr, .portal-separator { border-color: %[3]s; }
`, p.MainColor, p.AccentColor, p.SeparatorColor, p.TextColor)
}

// 5
func (a *api) residentFetchProperty(w http.ResponseWriter, r *http.Request) {
	pid, ok := a.authorized(w, r)
	if !ok {
		return
	}
	p, err := a.svc.Property(r.Context(), pid)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mediaHAL, propertyWire(p, a.self(r)))
}

// 7
func (a *api) residentFetchUiConfiguration(w http.ResponseWriter, r *http.Request) {
	pid, ok := a.property(w, r)
	if !ok {
		return
	}
	p, err := a.svc.UiConfiguration(r.Context(), pid)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mediaHAL, uiConfigurationWire(p, a.self(r)))
}

// 8
func (a *api) residentFetchUnit(w http.ResponseWriter, r *http.Request) {
	pid, ok := a.authorized(w, r)
	if !ok {
		return
	}
	u, err := a.svc.Unit(r.Context(), pid, nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mediaHAL, unitWire(u, a.self(r)))
}

// 9
func (a *api) residentEditUnit(w http.ResponseWriter, r *http.Request) {
	pid, ok := a.authorized(w, r)
	if !ok {
		return
	}
	b, err := readBody(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	upd := model.UnitUpdate{ID: b.uuid("guid"), Number: b.str("number"), Status: b.str("status"),
		Description: b.str("description"), Secret: b.str("secret"), GuestSecret: b.str("guestSecret")}
	if c := b.object("contact"); c != nil {
		upd.Contact = model.ContactUpdate{ContactName: c.str("contactName"), Email: c.str("email"), PhoneNumber: c.str("phoneNumber")}
	}
	if err := b.err(); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.svc.UpdateUnit(r.Context(), pid, nil, upd)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mediaHAL, unitWire(res.Unit, a.self(r)))
}

// 10
func (a *api) residentFetchUnitDevices(w http.ResponseWriter, r *http.Request) {
	pid, ok := a.authorized(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if !q.Has("type") {
		a.fail(w, r, model.InvalidField("type", "is required (UNIT or GUEST)"))
		return
	}
	t, err := service.ParseUserType("type", q.Get("type"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ds, err := a.svc.UnitDevices(r.Context(), pid, nil, t)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mediaHAL, devicesWire(ds, a.self(r)))
}

// 11
func (a *api) residentRemoveDevice(w http.ResponseWriter, r *http.Request) {
	pid, ok := a.authorized(w, r)
	if !ok {
		return
	}
	if err := a.svc.RemoveUnitDevice(r.Context(), pid, nil, pathParam(r, "deviceId")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// 12
func (a *api) queryUnitUsers(w http.ResponseWriter, r *http.Request) {
	pid, ok := a.authorized(w, r)
	if !ok {
		return
	}
	b, err := readBody(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var q service.UnitUserQuery
	if p := b.integer("page"); p != nil {
		q.Page = *p
	}
	if s := b.integer("pageSize"); s != nil {
		q.PageSize = *s
	}
	if d := b.str("sortDirection"); d != nil {
		switch strings.ToUpper(*d) {
		case "ASC":
		case "DESC":
			q.Desc = true
		default:
			b.v.Check(false, "sortDirection", "must be ASC or DESC")
		}
	}
	q.Sort = b.strings("sortFields")
	q.UserID = b.uuid("userId")
	if err := b.err(); err != nil {
		a.fail(w, r, err)
		return
	}
	page, err := a.svc.QueryUnitUsers(r.Context(), pid, q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, negotiated(r), a.springPage(pid, page))
}

func (a *api) springPage(pid uuid.UUID, p service.UnitUserPage) springPage {
	content := make([]unitUserResponse, len(p.Users))
	for i, u := range p.Users {
		content[i] = unitUserWire(u, a.userURL(pid, u.ID))
	}
	pages := int(math.Ceil(float64(p.Total) / float64(p.PageSize)))
	sort := springSort{Sorted: true}
	return springPage{
		Content:       content,
		Pageable:      springPageable{Offset: p.Page * p.PageSize, PageNumber: p.Page, PageSize: p.PageSize, Paged: true, Sort: sort},
		TotalElements: p.Total, TotalPages: pages, Size: p.PageSize, Number: p.Page, NumberOfElements: len(content),
		First: p.Page == 0, Last: p.Page >= pages-1, Empty: len(content) == 0, Sort: sort,
	}
}

func (a *api) userURL(pid, userID uuid.UUID) string {
	var buf [256]byte
	b := append(buf[:0], a.base...)
	b = model.AppendUUID(append(b, "/residents/properties/"...), pid)
	return string(model.AppendUUID(append(b, "/units/users/"...), userID))
}

// userParams parses propertyId and userId after the credential check.
func (a *api) userParams(w http.ResponseWriter, r *http.Request) (pid, uid uuid.UUID, ok bool) {
	if pid, ok = a.authorized(w, r); !ok {
		return pid, uid, false
	}
	uid, err := pathID(r, "userId")
	if err != nil {
		a.fail(w, r, err)
		return pid, uid, false
	}
	return pid, uid, true
}

// 13
func (a *api) getUnitUser(w http.ResponseWriter, r *http.Request) {
	pid, uid, ok := a.userParams(w, r)
	if !ok {
		return
	}
	u, err := a.svc.UnitUser(r.Context(), pid, uid)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, negotiated(r), unitUserWire(u, a.userURL(pid, uid)))
}

// 14
func (a *api) updateUnitUser(w http.ResponseWriter, r *http.Request) {
	pid, uid, ok := a.userParams(w, r)
	if !ok {
		return
	}
	b, err := readBody(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	upd := model.UnitUserUpdate{ID: b.uuid("userId"), Type: b.str("type"), UserName: b.str("userName"),
		Email: b.str("email"), PhoneNumber: b.str("phoneNumber"), Status: b.str("status"), Passphrase: b.str("passphrase")}
	if err := b.err(); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.svc.UpdateUnitUser(r.Context(), pid, uid, upd)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var out updateUnitUserResponse
	if res.PersonaUpdateID != nil {
		s := res.PersonaUpdateID.String()
		out.PersonaUpdateID = &s
	}
	if res.DpskUpdateID != nil {
		s := res.DpskUpdateID.String()
		out.DpskUpdateID = &s
	}
	writeJSON(w, http.StatusOK, negotiated(r), out)
}

// 15
func (a *api) getUnitUserDevices(w http.ResponseWriter, r *http.Request) {
	pid, uid, ok := a.userParams(w, r)
	if !ok {
		return
	}
	ds, err := a.svc.UnitUserDevices(r.Context(), pid, uid)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, negotiated(r), devicesWire(ds, a.self(r)))
}

// 16
func (a *api) removeUnitUserDevice(w http.ResponseWriter, r *http.Request) {
	pid, uid, ok := a.userParams(w, r)
	if !ok {
		return
	}
	if err := a.svc.RemoveUnitUserDevice(r.Context(), pid, uid, pathParam(r, "deviceId")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

package main

import (
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// The resident page's own query (graph/portal/web/src/operations/
// unit.graphql, ResidentUnit) and portal-wifisync's claim check
// (resolvers/delivery/consumer, UnitUserQuery), fields in the order the
// documents select them (the page's manifest holds its documents
// normalised: fields sorted, a fragment's after the fields beside it).

type pageDevice struct {
	DisplayName string  `json:"displayName"`
	LastSeen    *string `json:"lastSeen"`
	MAC         string  `json:"macAddress"`
	Online      bool    `json:"online"`
	OSType      string  `json:"osType"`
}

type pageUser struct {
	Devices    []pageDevice `json:"devices"`
	ID         uuid.UUID    `json:"id"`
	Passphrase string       `json:"passphrase"`
	Status     string       `json:"status"`
	Type       string       `json:"type"`
	UserName   string       `json:"userName"`
}

type pageChange struct {
	CompletedAt *string    `json:"completedAt"`
	CreatedAt   string     `json:"createdAt"`
	Detail      *string    `json:"detail"`
	ID          uuid.UUID  `json:"id"`
	Kind        string     `json:"kind"`
	MACAddress  *string    `json:"macAddress"`
	Status      string     `json:"status"`
	UserID      *uuid.UUID `json:"userId"`
}

type contact struct {
	ContactName string `json:"contactName"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phoneNumber"`
}

type branding struct {
	Access struct {
		TenantSetDpsk bool `json:"tenantSetDpsk"`
	} `json:"access"`
	Color struct {
		AccentColor    string `json:"accentColor"`
		MainColor      string `json:"mainColor"`
		SeparatorColor string `json:"separatorColor"`
		TextColor      string `json:"textColor"`
	} `json:"color"`
	Files struct {
		FavIconFileName string `json:"favIconFileName"`
		LogoFileName    string `json:"logoFileName"`
	} `json:"files"`
	Text struct {
		Announcements string `json:"announcements"`
		HelpText      string `json:"helpText"`
		SubTitle      string `json:"subTitle"`
		Title         string `json:"title"`
	} `json:"text"`
}

type pageProperty struct {
	AllowSeparateGuestSecret bool      `json:"allowSeparateGuestSecret"`
	ID                       uuid.UUID `json:"id"`
	MaxDevicesPerIdentity    int       `json:"maxDevicesPerIdentity"`
	Name                     string    `json:"name"`
	SSIDs                    []string  `json:"ssids"`
	UIConfiguration          branding  `json:"uiConfiguration"`
}

type pageBlocked struct {
	BlockedAt  string    `json:"blockedAt"`
	MACAddress string    `json:"macAddress"`
	UserID     uuid.UUID `json:"userId"`
}

type pageUnit struct {
	Property       pageProperty           `json:"property"`
	BlockedDevices []pageBlocked          `json:"blockedDevices"`
	ChangeRequests connection[pageChange] `json:"changeRequests"`
	Contact        contact                `json:"contact"`
	GuestSecret    *string                `json:"guestSecret"`
	ID             uuid.UUID              `json:"id"`
	Number         string                 `json:"number"`
	Secret         string                 `json:"secret"`
	Status         string                 `json:"status"`
	Users          connection[pageUser]   `json:"users"`
}

// gqlTime is a Time as the API writes it (RFC 3339 in UTC, whole seconds).
func gqlTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// page: GET /page?property=&unit= — what the resident page's ResidentUnit
// reads, with the statements portald sends for it: the unit, its first 20
// users and their devices, its blocked devices, its 5 newest change
// requests and the property (6 statements in one round trip).
func (s *server) page(w http.ResponseWriter, r *http.Request) {
	v, ok := ids(r, "property", "unit")
	if !ok {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	t, err := s.store.UnitTree(ctx, model.Scope{PropertyID: v[0], UnitID: &v[1]}, v[1], model.TreeQuery{
		Users: model.UserPage{Limit: 20, SkipTotal: true}, Devices: true, Changes: &model.ChangePage{Limit: 5, SkipTotal: true}, Property: true, Blocked: true})
	if err != nil {
		fail(w, err)
		return
	}
	u, p := &t.Unit, t.Property
	out := &pageUnit{ID: u.ID, Number: u.Number, Status: string(u.Status), Secret: u.Secret, GuestSecret: u.GuestSecret,
		Contact: contact{u.Contact.ContactName, u.Contact.Email, u.Contact.PhoneNumber}}
	byUser := make(map[uuid.UUID]*pageUser, len(t.Users.Items))
	out.Users.Edges = make([]edgeOf[pageUser], len(t.Users.Items))
	for i, uu := range t.Users.Items {
		pu := &pageUser{ID: uu.ID, Type: string(uu.Type), UserName: uu.UserName, Status: string(uu.Status),
			Passphrase: uu.Passphrase, Devices: []pageDevice{}}
		out.Users.Edges[i].Node, byUser[uu.ID] = pu, pu
	}
	for _, d := range t.Devices {
		pu := byUser[d.UserID]
		pu.Devices = append(pu.Devices, pageDevice{MAC: d.MACAddress, DisplayName: d.DisplayName, OSType: d.OSType,
			LastSeen: gqlTime(d.LastSeen), Online: d.Online})
	}
	out.BlockedDevices = make([]pageBlocked, len(t.Blocked))
	for i, b := range t.Blocked {
		out.BlockedDevices[i] = pageBlocked{BlockedAt: b.BlockedAt.UTC().Format(time.RFC3339), MACAddress: b.MACAddress, UserID: b.UserID}
	}
	items := t.Changes.Items
	out.ChangeRequests.Edges = make([]edgeOf[pageChange], len(items))
	for i, c := range items {
		out.ChangeRequests.Edges[i].Node = &pageChange{ID: c.ID, Kind: string(c.Kind), Status: string(c.Status),
			CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339), CompletedAt: gqlTime(c.CompletedAt), Detail: c.Detail,
			UserID: c.UserID, MACAddress: c.MACAddress}
	}
	pp := &out.Property
	pp.ID, pp.Name, pp.SSIDs = p.ID, p.Name, p.SSIDs
	pp.AllowSeparateGuestSecret, pp.MaxDevicesPerIdentity = p.AllowSeparateGuestSecret, p.MaxDevicesPerIdentity
	b := &pp.UIConfiguration
	b.Access.TenantSetDpsk = p.TenantSetDpsk
	b.Text.Title, b.Text.SubTitle, b.Text.Announcements, b.Text.HelpText = p.Title, p.Subtitle, p.Announcements, p.HelpText
	b.Color.MainColor, b.Color.AccentColor, b.Color.SeparatorColor, b.Color.TextColor = p.MainColor, p.AccentColor, p.SeparatorColor, p.TextColor
	b.Files.LogoFileName, b.Files.FavIconFileName = p.LogoFileName, p.FavIconFileName
	writeData(w, struct {
		Unit *pageUnit `json:"unit"`
	}{out})
}

// claim: GET /claim?property=&id= — portal-wifisync's claim check of an
// identity (1 statement), as GraphQL's unitUser answers it.
func (s *server) claim(w http.ResponseWriter, r *http.Request) {
	_, u, ok := s.unitUser(w, r)
	if !ok {
		return
	}
	writeData(w, struct {
		UnitUser claimUser `json:"unitUser"`
	}{claimUser{u.ID, u.UserName, string(u.Type), string(u.Status), u.Passphrase}})
}

type claimUser struct {
	ID         uuid.UUID `json:"id"`
	UserName   string    `json:"userName"`
	Type       string    `json:"type"`
	Status     string    `json:"status"`
	Passphrase string    `json:"passphrase"`
}

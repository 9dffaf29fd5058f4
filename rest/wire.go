package rest

import (
	"time"

	"github.com/residentportal/bff/graph/model"
)

// Wire shapes of the vendor API. They are separate from the domain types:
// field names and nesting follow the vendor, not the domain.

// Media types.
const (
	mediaJSON   = "application/json"
	mediaHAL    = "application/hal+json"
	mediaRuckus = "application/vnd.ruckus.v1+json"
)

type link struct {
	Href string `json:"href"`
}

type links struct {
	Self link `json:"self"`
}

type loginResponse struct {
	UnitGUID       string `json:"unitGuid"`
	Token          string `json:"token"`
	ServerVersion  string `json:"serverVersion"`
	ExpireDateTime string `json:"expireDateTime"`
}

type accessResponse struct {
	LoginText     string `json:"loginText"`
	PortalAllowed bool   `json:"portalAllowed"`
}

type propertyResponse struct {
	GUID                      string   `json:"guid"`
	Name                      string   `json:"name"`
	Address                   string   `json:"address"`
	Description               string   `json:"description"`
	ManagementName            string   `json:"managementName"`
	ManagementPhone           string   `json:"managementPhone"`
	ManagementEmail           string   `json:"managementEmail"`
	TenantPortalHelpText      string   `json:"tenantPortalHelpText"`
	TenantPortalAnnouncements string   `json:"tenantPortalAnnouncements"`
	AllowSeparateGuestSecret  bool     `json:"allowSeparateGuestSecret"`
	EnforceMaxUnits           bool     `json:"enforceMaxUnits"`
	MaxUnits                  int      `json:"maxUnits"`
	SendEmail                 bool     `json:"sendEmail"`
	SendSms                   bool     `json:"sendSms"`
	SSIDs                     []string `json:"ssids"`
	Links                     links    `json:"_links"`
}

func propertyWire(p model.Property, self string) propertyResponse {
	ssids := p.SSIDs
	if ssids == nil {
		ssids = []string{}
	}
	return propertyResponse{GUID: p.ID.String(), Name: p.Name, Address: p.Address, Description: p.Description,
		ManagementName: p.ManagementName, ManagementPhone: p.ManagementPhone, ManagementEmail: p.ManagementEmail,
		TenantPortalHelpText: p.HelpText, TenantPortalAnnouncements: p.Announcements,
		AllowSeparateGuestSecret: p.AllowSeparateGuestSecret, EnforceMaxUnits: p.EnforceMaxUnits, MaxUnits: p.MaxUnits,
		SendEmail: p.SendEmail, SendSms: p.SendSms, SSIDs: ssids, Links: links{link{self}}}
}

type uiConfigurationResponse struct {
	Access struct {
		TenantSetDpsk bool `json:"tenantSetDpsk"`
	} `json:"access"`
	Text struct {
		Title         string `json:"title"`
		SubTitle      string `json:"subTitle"`
		LoginText     string `json:"loginText"`
		Announcements string `json:"announcements"`
		HelpText      string `json:"helpText"`
	} `json:"text"`
	Color struct {
		MainColor      string `json:"mainColor"`
		AccentColor    string `json:"accentColor"`
		SeparatorColor string `json:"separatorColor"`
		TextColor      string `json:"textColor"`
	} `json:"color"`
	Files struct {
		LogoFileName    string `json:"logoFileName"`
		FavIconFileName string `json:"favIconFileName"`
	} `json:"files"`
	Links links `json:"_links"`
}

func uiConfigurationWire(p model.Property, self string) uiConfigurationResponse {
	var u uiConfigurationResponse
	u.Access.TenantSetDpsk = p.TenantSetDpsk
	u.Text.Title, u.Text.SubTitle, u.Text.LoginText = p.Title, p.Subtitle, p.LoginText
	u.Text.Announcements, u.Text.HelpText = p.Announcements, p.HelpText
	u.Color.MainColor, u.Color.AccentColor = p.MainColor, p.AccentColor
	u.Color.SeparatorColor, u.Color.TextColor = p.SeparatorColor, p.TextColor
	u.Files.LogoFileName, u.Files.FavIconFileName = p.LogoFileName, p.FavIconFileName
	u.Links.Self.Href = self
	return u
}

type contactWire struct {
	ContactName string `json:"contactName"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phoneNumber"`
}

type unitResponse struct {
	GUID        string      `json:"guid"`
	Number      string      `json:"number"`
	Description string      `json:"description"`
	Contact     contactWire `json:"contact"`
	Status      string      `json:"status"`
	Secret      string      `json:"secret"`
	// GuestSecret is absent where the property has no separate guest secret.
	GuestSecret *string `json:"guestSecret,omitempty"`
	Links       links   `json:"_links"`
}

func unitWire(u model.Unit, self string) unitResponse {
	return unitResponse{GUID: u.ID.String(), Number: u.Number, Description: u.Description,
		Contact: contactWire{u.Contact.ContactName, u.Contact.Email, u.Contact.PhoneNumber},
		Status:  string(u.Status), Secret: u.Secret, GuestSecret: u.GuestSecret, Links: links{link{self}}}
}

type deviceWire struct {
	DeviceID    string  `json:"deviceId"`
	MACAddress  string  `json:"macAddress"`
	DisplayName string  `json:"displayName"`
	Description string  `json:"description"`
	OSType      string  `json:"osType"`
	UserID      string  `json:"userId"`
	Type        string  `json:"type"`
	LastSeen    *string `json:"lastSeen"`
}

func devicesWire(ds []model.Device, self string) devicesResponse {
	out := devicesResponse{Contents: make([]deviceWire, len(ds)), Links: links{link{self}}}
	for i, d := range ds {
		var seen *string
		if d.LastSeen != nil {
			s := d.LastSeen.UTC().Format(time.RFC3339)
			seen = &s
		}
		out.Contents[i] = deviceWire{DeviceID: d.MACAddress, MACAddress: d.MACAddress, DisplayName: d.DisplayName,
			Description: d.Description, OSType: d.OSType, UserID: d.UserID.String(), Type: string(d.UserType), LastSeen: seen}
	}
	return out
}

type devicesResponse struct {
	Contents []deviceWire `json:"contents"`
	Links    links        `json:"_links"`
}

type unitUserResponse struct {
	UserID      string `json:"userId"`
	UserName    string `json:"userName"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phoneNumber"`
	Passphrase  string `json:"passphrase"`
	Status      string `json:"status"`
	Type        string `json:"type"`
	Links       links  `json:"_links"`
}

func unitUserWire(u model.UnitUser, self string) unitUserResponse {
	return unitUserResponse{UserID: u.ID.String(), UserName: u.UserName, Email: u.Email, PhoneNumber: u.PhoneNumber,
		Passphrase: u.Passphrase, Status: string(u.Status), Type: string(u.Type), Links: links{link{self}}}
}

type updateUnitUserResponse struct {
	PersonaUpdateID *string `json:"personaUpdateId,omitempty"`
	DpskUpdateID    *string `json:"dpskUpdateId,omitempty"`
}

// Spring Data's Page, as the vendor serialises it.
type springSort struct {
	Empty    bool `json:"empty"`
	Sorted   bool `json:"sorted"`
	Unsorted bool `json:"unsorted"`
}

type springPageable struct {
	Offset     int        `json:"offset"`
	PageNumber int        `json:"pageNumber"`
	PageSize   int        `json:"pageSize"`
	Paged      bool       `json:"paged"`
	Unpaged    bool       `json:"unpaged"`
	Sort       springSort `json:"sort"`
}

type springPage struct {
	Content          []unitUserResponse `json:"content"`
	Pageable         springPageable     `json:"pageable"`
	TotalElements    int                `json:"totalElements"`
	TotalPages       int                `json:"totalPages"`
	Size             int                `json:"size"`
	Number           int                `json:"number"`
	NumberOfElements int                `json:"numberOfElements"`
	First            bool               `json:"first"`
	Last             bool               `json:"last"`
	Empty            bool               `json:"empty"`
	Sort             springSort         `json:"sort"`
}

package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
)

// Properties: create, update, show, and their portal files.

// propertyFlags binds every property flag to a PropertyInput; only flags the
// user set are applied.
type propertyFlags struct {
	f                                                         flags
	name, address, description, loginText, title, subtitle    string
	helpText, announcements, mgmtName, mgmtPhone, mgmtEmail   string
	mainColor, accentColor, separatorColor, textColor         string
	ssids                                                     listFlag
	allowGuest, tenantSetDpsk, portalAllowed, enforce, sendEm bool
	sendSms                                                   bool
	passLen, maxUnits, maxDevices                             int
}

func bindProperty(f flags, update bool) *propertyFlags {
	p := &propertyFlags{f: f}
	f.StringVar(&p.name, "name", "", "property name")
	f.StringVar(&p.address, "address", "", "street address")
	f.StringVar(&p.description, "description", "", "description")
	f.Var(&p.ssids, "ssid", "SSID (repeatable)")
	f.BoolVar(&p.allowGuest, "allow-guest-secret", false, "units get a separate guest passphrase")
	f.BoolVar(&p.tenantSetDpsk, "tenant-set-dpsk", false, "residents may choose their own passphrase")
	f.BoolVar(&p.portalAllowed, "portal-allowed", true, "the resident portal is open")
	f.BoolVar(&p.enforce, "enforce-max-units", false, "refuse units beyond --max-units")
	f.BoolVar(&p.sendEm, "send-email", false, "notify residents by e-mail")
	f.BoolVar(&p.sendSms, "send-sms", false, "notify residents by SMS")
	f.IntVar(&p.maxUnits, "max-units", 0, "maximum number of units (enforced with --enforce-max-units)")
	f.IntVar(&p.maxDevices, "max-devices-per-identity", 0, "devices each identity may have join by handshake (0: no cap)")
	if update {
		f.StringVar(&p.loginText, "login-text", "", "")
		f.StringVar(&p.title, "title", "", "")
		f.StringVar(&p.subtitle, "subtitle", "", "")
		f.StringVar(&p.helpText, "help-text", "", "")
		f.StringVar(&p.announcements, "announcements", "", "")
		f.StringVar(&p.mainColor, "main-color", "", "")
		f.StringVar(&p.accentColor, "accent-color", "", "")
		f.StringVar(&p.separatorColor, "separator-color", "", "")
		f.StringVar(&p.textColor, "text-color", "", "")
		f.IntVar(&p.passLen, "passphrase-length", 0, "")
		f.StringVar(&p.mgmtName, "management-name", "", "")
		f.StringVar(&p.mgmtPhone, "management-phone", "", "")
		f.StringVar(&p.mgmtEmail, "management-email", "", "")
	}
	return p
}

func (p *propertyFlags) input() db.PropertyInput {
	var in db.PropertyInput
	str := func(name string, dst **string, v string) {
		if p.f.set(name) {
			*dst = &v
		}
	}
	boolean := func(name string, dst **bool, v bool) {
		if p.f.set(name) {
			*dst = &v
		}
	}
	integer := func(name string, dst **int, v int) {
		if p.f.set(name) {
			*dst = &v
		}
	}
	str("name", &in.Name, p.name)
	str("address", &in.Address, p.address)
	str("description", &in.Description, p.description)
	str("login-text", &in.LoginText, p.loginText)
	str("title", &in.Title, p.title)
	str("subtitle", &in.Subtitle, p.subtitle)
	str("help-text", &in.HelpText, p.helpText)
	str("announcements", &in.Announcements, p.announcements)
	str("management-name", &in.ManagementName, p.mgmtName)
	str("management-phone", &in.ManagementPhone, p.mgmtPhone)
	str("management-email", &in.ManagementEmail, p.mgmtEmail)
	str("main-color", &in.MainColor, p.mainColor)
	str("accent-color", &in.AccentColor, p.accentColor)
	str("separator-color", &in.SeparatorColor, p.separatorColor)
	str("text-color", &in.TextColor, p.textColor)
	boolean("allow-guest-secret", &in.AllowSeparateGuestSecret, p.allowGuest)
	boolean("tenant-set-dpsk", &in.TenantSetDpsk, p.tenantSetDpsk)
	boolean("portal-allowed", &in.PortalAllowed, p.portalAllowed)
	boolean("enforce-max-units", &in.EnforceMaxUnits, p.enforce)
	boolean("send-email", &in.SendEmail, p.sendEm)
	boolean("send-sms", &in.SendSms, p.sendSms)
	integer("max-units", &in.MaxUnits, p.maxUnits)
	integer("max-devices-per-identity", &in.MaxDevicesPerIdentity, p.maxDevices)
	integer("passphrase-length", &in.PassphraseLength, p.passLen)
	if p.f.set("ssid") {
		in.SSIDs = append([]string{}, p.ssids...)
	}
	return in
}

func cmdPropertyCreate(e *env, args []string) (any, error) {
	f := newFlags("property create")
	p := bindProperty(f, false)
	if err := f.parse(args, "name"); err != nil {
		return nil, err
	}
	created, err := e.store.CreateProperty(e.ctx, p.input())
	return map[string]any{"propertyId": created.ID}, err
}

func cmdPropertyUpdate(e *env, args []string) (any, error) {
	f := newFlags("property update")
	p := bindProperty(f, true)
	f.String("property", "", "property id")
	if err := f.parse(args, "property"); err != nil {
		return nil, err
	}
	id, err := f.uuid("property")
	if err != nil {
		return nil, err
	}
	updated, err := e.store.UpdateProperty(e.ctx, id, p.input())
	if err != nil {
		return nil, err
	}
	return propertyJSON(updated), nil
}

func cmdPropertyShow(e *env, args []string) (any, error) {
	f := newFlags("property show")
	f.String("property", "", "property id")
	if err := f.parse(args, "property"); err != nil {
		return nil, err
	}
	id, err := f.uuid("property")
	if err != nil {
		return nil, err
	}
	p, err := e.store.PropertyByID(e.ctx, id)
	if err != nil {
		return nil, err
	}
	out := propertyJSON(p)
	pages, err := e.store.UnitPages(e.ctx, []uuid.UUID{id}, model.UnitPage{Limit: 1})
	if err != nil {
		return nil, err
	}
	out["units"] = pages[id].Total // `unit list` lists them
	return out, nil
}

// propertyJSON is the admin tool's view of a property.
func propertyJSON(p model.Property) map[string]any {
	ssids := p.SSIDs
	if ssids == nil {
		ssids = []string{}
	}
	return map[string]any{
		"propertyId": p.ID, "name": p.Name, "address": p.Address, "description": p.Description,
		"managementName": p.ManagementName, "managementPhone": p.ManagementPhone, "managementEmail": p.ManagementEmail,
		"helpText": p.HelpText, "announcements": p.Announcements,
		"allowSeparateGuestSecret": p.AllowSeparateGuestSecret, "enforceMaxUnits": p.EnforceMaxUnits,
		"maxUnits": p.MaxUnits, "maxDevicesPerIdentity": p.MaxDevicesPerIdentity, "sendEmail": p.SendEmail, "sendSms": p.SendSms, "ssids": ssids,
		"portalAllowed": p.PortalAllowed, "loginText": p.LoginText, "title": p.Title, "subtitle": p.Subtitle,
		"mainColor": p.MainColor, "accentColor": p.AccentColor, "separatorColor": p.SeparatorColor,
		"textColor": p.TextColor, "tenantSetDpsk": p.TenantSetDpsk, "passphraseLength": p.PassphraseLength,
		"logoFileName": p.LogoFileName, "favIconFileName": p.FavIconFileName,
	}
}

func cmdPropertySetFile(e *env, args []string) (any, error) {
	f := newFlags("property set-file")
	f.String("property", "", "property id")
	typ := f.String("type", "", "logo or favIcon")
	path := f.String("file", "", "image file")
	if err := f.parse(args, "property", "type", "file"); err != nil {
		return nil, err
	}
	id, err := f.uuid("property")
	if err != nil {
		return nil, err
	}
	if !model.FileType(*typ).Valid() {
		return nil, usagef("--type must be logo or favIcon")
	}
	data, err := os.ReadFile(*path)
	if err != nil {
		return nil, model.InvalidField("file", "cannot be read: "+errors.Unwrap(err).Error())
	}
	ct, _ := model.SniffImage(data) // the content decides, not the name (checked by the store)
	file := model.PropertyFile{PropertyID: id, Type: model.FileType(*typ), FileName: filepath.Base(*path), ContentType: ct, Data: data}
	if err := e.store.SetPropertyFile(e.ctx, file); err != nil {
		return nil, err
	}
	return map[string]any{"fileName": file.FileName, "contentType": file.ContentType}, nil
}

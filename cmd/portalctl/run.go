package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/residentportal/bff/cmd/internal/config"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
)

// usageError is a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// undefinedTable reports an unmigrated database (SQLSTATE 42P01).
func undefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// errConfig marks a configuration that does not load: said as it is.
var errConfig = errors.New("configuration")

// env is what every command works with.
type env struct {
	ctx    context.Context
	cfg    config.Config
	store  *db.DB
	stdout io.Writer
}

type command struct {
	usage string
	run   func(e *env, args []string) (any, error)
}

var commands = map[string]command{
	"migrate":            {"migrate", cmdMigrate},
	"property create":    {"property create --name N [--address A] [--ssid S]... [--allow-guest-secret] [--tenant-set-dpsk] [--portal-allowed=true|false]", cmdPropertyCreate},
	"property update":    {"property update --property P [flags of create] [--login-text T] [--title T] [--subtitle T] [--help-text T] [--announcements T] [--main-color C] [--accent-color C] [--separator-color C] [--text-color C] [--passphrase-length N] [--max-units N] [--management-name N] [--management-phone P] [--management-email E]", cmdPropertyUpdate},
	"property set-file":  {"property set-file --property P --type logo|favIcon --file PATH", cmdPropertySetFile},
	"property show":      {"property show --property P", cmdPropertyShow},
	"unit create":        {"unit create --property P --number 101 [--contact-name N] [--email E] [--phone P]", cmdUnitCreate},
	"unit disable":       {"unit disable --unit U", cmdUnitStatus(model.UnitDisabled)},
	"unit enable":        {"unit enable --unit U", cmdUnitStatus(model.UnitEnabled)},
	"unit reset-access":  {"unit reset-access --unit U", cmdUnitResetAccess},
	"user create":        {"user create --unit U --name N [--email E] [--phone P]", cmdUserCreate},
	"device add":         {"device add --user USER --mac M [--name N] [--os OS]", cmdDeviceAdd},
	"manager-key create": {"manager-key create --property P", cmdManagerKeyCreate},
	"manager-key list":   {"manager-key list --property P", cmdManagerKeyList},
	"manager-key revoke": {"manager-key revoke --key-id K", cmdManagerKeyRevoke},
	"rekey":              {"rekey [--new-key K]", cmdRekey},
	"demo":               {"demo", cmdDemo},
	"unit list":          {"unit list --property P [--limit N]", cmdUnitList},
	"unit show":          {"unit show --unit U", cmdUnitShow},
	"user list":          {"user list --unit U", cmdUserList},
	"user show":          {"user show --user U", cmdUserShow},
	"device list":        {"device list --unit U", cmdDeviceList},
	"device remove":      {"device remove --unit U --mac M", cmdDeviceRemove},
	"changes list":       {"changes list --property P [--unit U] [--status PENDING|PUBLISHED|APPLIED|FAILED] [--limit N]", cmdChangesList},
	"changes retry":      {"changes retry --id C", cmdChangesRetry},
}

func usageText() string {
	names := make([]string, 0, len(commands))
	for _, c := range commands {
		names = append(names, "  portalctl "+c.usage)
	}
	sort.Strings(names)
	return "usage:\n" + strings.Join(names, "\n") +
		"\n\nEvery command prints one JSON object; -o table prints it for people.\nEnvironment: DATABASE_URL, SECRET_KEY, SECRET_KEY_PREVIOUS during a rekey (see the README)."
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	fail := func(code int, err error) int {
		msg := model.ErrorMessage(err)
		var ue usageError
		switch {
		case errors.As(err, &ue):
			msg = ue.msg
		case errors.Is(err, db.ErrOtherKey):
			msg = db.ErrOtherKey.Error()
		case errors.Is(err, model.ErrWrongKey):
			msg = "the database's secrets were written under another SECRET_KEY: run with the key they were written " +
				"under (make run keeps its own in .data/secret_key), or move them to this key with portalctl rekey"
		case errors.Is(err, errConfig):
			msg = err.Error()
		case undefinedTable(err):
			msg = "the database has no schema yet: run portalctl migrate"
		case model.ErrorCode(err) == model.CodeInternal:
			msg = "internal error: " + err.Error() // the operator's own tool: say what failed
		}
		out := map[string]any{"error": msg}
		if fields := model.ErrorFields(err); len(fields) > 0 {
			out["fields"] = fields
		}
		_ = json.NewEncoder(stderr).Encode(out)
		return code
	}
	defer func() {
		if r := recover(); r != nil {
			code = fail(1, fmt.Errorf("unexpected failure: %v", r))
		}
	}()
	args, table, err := outputFormat(args)
	if err != nil {
		return fail(2, err)
	}
	var cmd command
	var rest []string
	switch {
	case len(args) >= 2 && commands[args[0]+" "+args[1]].run != nil:
		cmd, rest = commands[args[0]+" "+args[1]], args[2:]
	case len(args) >= 1 && commands[args[0]].run != nil:
		cmd, rest = commands[args[0]], args[1:]
	case len(args) >= 1 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help"):
		fmt.Fprintln(stdout, usageText())
		return 0
	case len(args) == 0:
		return fail(2, usagef("a command is needed: portalctl help lists them"))
	default:
		return fail(2, usagef("unknown command %q: portalctl help lists the commands", strings.Join(args, " ")))
	}
	for _, a := range rest {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprintf(stdout, "usage: portalctl %s\n\nEnvironment: DATABASE_URL, SECRET_KEY, SECRET_KEY_PREVIOUS during a rekey (see the README).\n", cmd.usage)
			return 0
		}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		hint := ""
		if getenv("SECRET_KEY") == "" {
			hint = "\n(make run keeps a development key in .data/secret_key: export SECRET_KEY=$(cat .data/secret_key))"
		}
		return fail(1, fmt.Errorf("%w: %v%s", errConfig, err, hint))
	}
	keys, err := cfg.Keyring()
	if err != nil {
		return fail(1, err)
	}
	store, err := db.Open(ctx, cfg.DatabaseURL, keys, db.Options{MaxConns: 4})
	if err != nil {
		return fail(1, err)
	}
	defer store.Close()
	// Nothing is written under a key the data is not under (migrate makes
	// the check's table; rekey checks the current key itself).
	if name := strings.Fields(cmd.usage)[0]; name != "migrate" {
		if err := store.VerifyKey(ctx); err != nil {
			return fail(1, err)
		}
	}
	out, err := cmd.run(&env{ctx: ctx, cfg: cfg, store: store, stdout: stdout}, rest)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return fail(2, usagef("%s\nusage: portalctl %s", ue.msg, cmd.usage))
		}
		return fail(1, err)
	}
	if table {
		if err := writeTable(stdout, out); err != nil {
			return fail(1, err)
		}
		return 0
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fail(1, err)
	}
	return 0
}

// flags is a flag set that reports usage errors instead of exiting.
type flags struct {
	*flag.FlagSet
}

func newFlags(name string) flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return flags{fs}
}

func (f flags) parse(args []string, required ...string) error {
	if err := f.Parse(args); err != nil {
		// The flag package names a flag with one dash; portalctl's take two.
		return usagef("%s", strings.Replace(err.Error(), ": -", ": --", 1))
	}
	if f.NArg() > 0 {
		return usagef("unexpected argument %q", f.Arg(0))
	}
	for _, r := range required {
		if fl := f.Lookup(r); fl == nil || fl.Value.String() == "" {
			return usagef("--%s is required", r)
		}
	}
	return nil
}

func (f flags) set(name string) bool {
	found := false
	f.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

func (f flags) uuid(name string) (uuid.UUID, error) {
	v := f.Lookup(name).Value.String()
	id, err := uuid.Parse(v)
	if err != nil {
		return id, usagef("--%s: %q is not a UUID", name, v)
	}
	return id, nil
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func cmdMigrate(e *env, args []string) (any, error) {
	if err := newFlags("migrate").parse(args); err != nil {
		return nil, err
	}
	v, err := e.store.Migrate(e.ctx)
	return map[string]any{"version": v}, err
}

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
	passLen, maxUnits                                         int
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
		"maxUnits": p.MaxUnits, "sendEmail": p.SendEmail, "sendSms": p.SendSms, "ssids": ssids,
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

func cmdUnitCreate(e *env, args []string) (any, error) {
	f := newFlags("unit create")
	f.String("property", "", "property id")
	number := f.String("number", "", "unit number")
	name := f.String("contact-name", "", "resident's name")
	email := f.String("email", "", "resident's e-mail")
	phone := f.String("phone", "", "resident's phone")
	if err := f.parse(args, "property", "number"); err != nil {
		return nil, err
	}
	id, err := f.uuid("property")
	if err != nil {
		return nil, err
	}
	c, err := e.store.CreateUnit(e.ctx, db.NewUnit{PropertyID: id, Number: *number,
		Contact: model.Contact{ContactName: *name, Email: *email, PhoneNumber: *phone}})
	if err != nil {
		return nil, err
	}
	return createdUnitJSON(e.cfg, c.Unit, c.PortalSecret), nil
}

func createdUnitJSON(cfg config.Config, u model.Unit, portalSecret string) map[string]any {
	out := map[string]any{
		"unitId": u.ID, "number": u.Number, "hashedSecret": portalSecret,
		"portalUrl": cfg.PortalURL(u.PropertyID.String(), portalSecret),
		"secret":    u.Secret, "unitUserId": u.UnitUserID,
	}
	if u.GuestSecret != nil {
		out["guestSecret"], out["guestUserId"] = *u.GuestSecret, *u.GuestUserID
	}
	return out
}

func unitFlag(e *env, name string, args []string) (model.Scope, uuid.UUID, error) {
	f := newFlags(name)
	f.String("unit", "", "unit id")
	if err := f.parse(args, "unit"); err != nil {
		return model.Scope{}, uuid.Nil, err
	}
	id, err := f.uuid("unit")
	if err != nil {
		return model.Scope{}, id, err
	}
	p, err := e.store.PropertyOfUnit(e.ctx, id)
	return model.PropertyScope(p), id, err
}

func cmdUnitStatus(status model.UnitStatus) func(e *env, args []string) (any, error) {
	return func(e *env, args []string) (any, error) {
		scope, id, err := unitFlag(e, "unit "+strings.ToLower(string(status)), args)
		if err != nil {
			return nil, err
		}
		u, err := e.store.SetUnitStatus(e.ctx, scope, id, status)
		return map[string]any{"unitId": u.ID, "status": u.Status}, err
	}
}

func cmdUnitResetAccess(e *env, args []string) (any, error) {
	scope, id, err := unitFlag(e, "unit reset-access", args)
	if err != nil {
		return nil, err
	}
	res, err := e.store.UpdateUnit(e.ctx, scope, id, model.UnitUpdate{ResetPortalAccess: true})
	if err != nil {
		return nil, err
	}
	return map[string]any{"unitId": res.Unit.ID, "status": res.Unit.Status, "hashedSecret": res.PortalSecret,
		"portalUrl": e.cfg.PortalURL(res.Unit.PropertyID.String(), res.PortalSecret)}, nil
}

func cmdUserCreate(e *env, args []string) (any, error) {
	f := newFlags("user create")
	f.String("unit", "", "unit id")
	name := f.String("name", "", "user name")
	email := f.String("email", "", "e-mail")
	phone := f.String("phone", "", "phone")
	if err := f.parse(args, "unit", "name"); err != nil {
		return nil, err
	}
	id, err := f.uuid("unit")
	if err != nil {
		return nil, err
	}
	p, err := e.store.PropertyOfUnit(e.ctx, id)
	if err != nil {
		return nil, err
	}
	u, err := e.store.CreateUnitUser(e.ctx, model.PropertyScope(p), id, *name, *email, *phone)
	return map[string]any{"userId": u.ID, "passphrase": u.Passphrase}, err
}

func cmdDeviceAdd(e *env, args []string) (any, error) {
	f := newFlags("device add")
	f.String("user", "", "unit user id")
	mac := f.String("mac", "", "MAC address")
	name := f.String("name", "", "display name")
	osType := f.String("os", "", "OS type")
	if err := f.parse(args, "user", "mac"); err != nil {
		return nil, err
	}
	id, err := f.uuid("user")
	if err != nil {
		return nil, err
	}
	p, err := e.store.PropertyOfUser(e.ctx, id)
	if err != nil {
		return nil, err
	}
	d, err := e.store.AddDevice(e.ctx, model.PropertyScope(p), db.NewDevice{UserID: id, MACAddress: *mac, DisplayName: *name, OSType: *osType})
	return map[string]any{"deviceId": d.MACAddress}, err
}

func propertyFlag(name string, args []string) (uuid.UUID, error) {
	return idFlag(name, "property", args)
}

// idFlag parses a command whose only argument is one required id flag.
func idFlag(name, flag string, args []string) (uuid.UUID, error) {
	f := newFlags(name)
	f.String(flag, "", flag+" id")
	if err := f.parse(args, flag); err != nil {
		return uuid.Nil, err
	}
	return f.uuid(flag)
}

func cmdManagerKeyCreate(e *env, args []string) (any, error) {
	id, err := propertyFlag("manager-key create", args)
	if err != nil {
		return nil, err
	}
	k, err := e.store.CreateManagerKey(e.ctx, id)
	return map[string]any{"keyId": k.ManagerKey.ID, "key": k.Key}, err
}

func managerKeyJSON(k model.ManagerKey) map[string]any {
	return map[string]any{"keyId": k.ID, "propertyId": k.PropertyID, "hint": k.Hint + "…",
		"createdAt": k.CreatedAt.UTC().Format(time.RFC3339), "revokedAt": timeOrNil(k.RevokedAt)}
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func cmdManagerKeyList(e *env, args []string) (any, error) {
	id, err := propertyFlag("manager-key list", args)
	if err != nil {
		return nil, err
	}
	if _, err := e.store.PropertyByID(e.ctx, id); err != nil {
		return nil, err
	}
	keys, err := e.store.ManagerKeys(e.ctx, id)
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, managerKeyJSON(k))
	}
	return map[string]any{"keys": out}, err
}

func cmdManagerKeyRevoke(e *env, args []string) (any, error) {
	id, err := idFlag("manager-key revoke", "key-id", args)
	if err != nil {
		return nil, err
	}
	k, err := e.store.RevokeManagerKey(e.ctx, id)
	if err != nil {
		return nil, err
	}
	return managerKeyJSON(k), nil
}

func cmdRekey(e *env, args []string) (any, error) {
	f := newFlags("rekey")
	newKey := f.String("new-key", "", "the key to move to (default: SECRET_KEY, when SECRET_KEY_PREVIOUS names the old one)")
	if err := f.parse(args); err != nil {
		return nil, err
	}
	var next *model.Keyring
	switch {
	case *newKey != "":
		k, err := model.NewKeyring(*newKey)
		if err != nil {
			return nil, usagef("--new-key: %s", model.ErrorMessage(err))
		}
		next = k
	case e.cfg.SecretKeyPrevious != "":
		next = e.store.Keys().Keys()[0]
	default:
		return nil, usagef("--new-key is required (or set SECRET_KEY to the new key and SECRET_KEY_PREVIOUS to the old one)")
	}
	n, err := e.store.Rekey(e.ctx, next)
	return map[string]any{"rows": n}, err
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

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

// noDatabase reports a database that does not exist (SQLSTATE 3D000).
func noDatabase(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "3D000"
}

// databaseName is where url points — host, port and database, never the
// password — or the default's when it is empty.
func databaseName(url string) string {
	if url == "" {
		url = config.DefaultDatabaseURL
	}
	c, err := pgconn.ParseConfig(url)
	if err != nil {
		return "(DATABASE_URL is not a valid connection string)"
	}
	return fmt.Sprintf("%q on %s:%d", c.Database, c.Host, c.Port)
}

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
	"property update":    {"property update --property P [flags of create] [--login-text T] [--title T] [--subtitle T] [--help-text T] [--announcements T] [--main-color C] [--accent-color C] [--separator-color C] [--text-color C] [--passphrase-length N] [--max-units N] [--max-devices-per-identity N] [--management-name N] [--management-phone P] [--management-email E]", cmdPropertyUpdate},
	"property set-file":  {"property set-file --property P --type logo|favIcon --file PATH", cmdPropertySetFile},
	"property show":      {"property show --property P", cmdPropertyShow},
	"unit create":        {"unit create --property P --number 101 [--contact-name N] [--email E] [--phone P]", cmdUnitCreate},
	"unit disable":       {"unit disable --unit U", cmdUnitStatus(model.UnitDisabled)},
	"unit enable":        {"unit enable --unit U", cmdUnitStatus(model.UnitEnabled)},
	"unit reset-access":  {"unit reset-access --unit U", cmdUnitResetAccess},
	"unit set-vlan":      {"unit set-vlan --unit U --vlan 1-4094|none", cmdUnitSetVLAN},
	"user create":        {"user create --unit U --name N [--email E] [--phone P]", cmdUserCreate},
	"device add":         {"device add --user USER --mac M [--name N] [--os OS]", cmdDeviceAdd},
	"manager-key create": {"manager-key create --property P", cmdManagerKeyCreate},
	"manager-key list":   {"manager-key list --property P", cmdManagerKeyList},
	"manager-key revoke": {"manager-key revoke --key-id K", cmdManagerKeyRevoke},
	"nas add":            {"nas add --property P --name N --address IP|CIDR --profile hostapd|cisco|meraki|mist|aruba|ruckus [--coa-port 3799]", cmdNASAdd},
	"nas list":           {"nas list --property P", cmdNASList},
	"nas show":           {"nas show --nas N", cmdNASShow},
	"nas remove":         {"nas remove --nas N", cmdNASRemove},
	"nas rotate-secret":  {"nas rotate-secret --nas N", cmdNASRotateSecret},
	"nas register-cert":  {"nas register-cert --nas N --cert FILE.pem|none", cmdNASRegisterCert},
	"nas issue-cert":     {"nas issue-cert --nas N --cert-out FILE.pem --key-out FILE.pem [--days 825]", cmdNASIssueCert},
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
		case noDatabase(err), model.ErrorCode(err) == model.CodeUnavailable:
			cause := model.ErrorMessage(err)
			if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) {
				cause = pgErr.Message
			}
			msg = fmt.Sprintf("cannot use the database %s (DATABASE_URL): %s. To use the one make run set up in this checkout: . .data/env",
				databaseName(getenv("DATABASE_URL")), cause)
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

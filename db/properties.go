package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/graph/model"
)

const propertyColumns = `p.id, p.name, p.address, p.description, p.management_name, p.management_phone,
  p.management_email, p.help_text, p.announcements, p.allow_separate_guest_secret, p.enforce_max_units,
  p.max_units, p.send_email, p.send_sms, p.ssids, p.portal_allowed, p.login_text, p.title, p.subtitle,
  p.main_color, p.accent_color, p.separator_color, p.text_color, p.tenant_set_dpsk, p.passphrase_length,
  p.max_devices_per_identity,
  coalesce((SELECT file_name FROM property_files f WHERE f.property_id = p.id AND f.type = 'logo'), ''),
  coalesce((SELECT file_name FROM property_files f WHERE f.property_id = p.id AND f.type = 'favIcon'), ''),
  p.created_at, p.updated_at`

func scanProperty(row pgx.Row) (model.Property, error) {
	var p model.Property
	err := row.Scan(&p.ID, &p.Name, &p.Address, &p.Description, &p.ManagementName, &p.ManagementPhone,
		&p.ManagementEmail, &p.HelpText, &p.Announcements, &p.AllowSeparateGuestSecret, &p.EnforceMaxUnits,
		&p.MaxUnits, &p.SendEmail, &p.SendSms, &p.SSIDs, &p.PortalAllowed, &p.LoginText, &p.Title, &p.Subtitle,
		&p.MainColor, &p.AccentColor, &p.SeparatorColor, &p.TextColor, &p.TenantSetDpsk, &p.PassphraseLength,
		&p.MaxDevicesPerIdentity, &p.LogoFileName, &p.FavIconFileName, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// PropertyByID returns one property. NOT_FOUND if there is none.
func (db *DB) PropertyByID(ctx context.Context, id uuid.UUID) (model.Property, error) {
	p, err := propertyByID(ctx, db.pool, id, false)
	return p, wrap("db.PropertyByID", err)
}

func propertyByID(ctx context.Context, q querier, id uuid.UUID, lock bool) (model.Property, error) {
	sql := `SELECT ` + propertyColumns + ` FROM properties p WHERE p.id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	p, err := scanProperty(q.QueryRow(ctx, sql, id))
	if err == pgx.ErrNoRows {
		return p, model.ErrNotFound("property")
	}
	return p, err
}

// PropertiesByIDs returns the properties with the given ids in one statement,
// in no particular order (dataloaders order them).
func (db *DB) PropertiesByIDs(ctx context.Context, ids []uuid.UUID) ([]model.Property, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+propertyColumns+` FROM properties p WHERE p.id = ANY($1)`, ids)
	if err != nil {
		return nil, wrap("db.PropertiesByIDs", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Property, error) { return scanProperty(r) })
	return out, wrap("db.PropertiesByIDs", err)
}

// PropertyInput holds every settable property field; nil is "unchanged" on
// update and "default" on create.
type PropertyInput struct {
	// ID is the id a new property gets (a random one when zero); ignored on update.
	ID                       uuid.UUID
	Name                     *string
	Address                  *string
	Description              *string
	ManagementName           *string
	ManagementPhone          *string
	ManagementEmail          *string
	HelpText                 *string
	Announcements            *string
	AllowSeparateGuestSecret *bool
	EnforceMaxUnits          *bool
	MaxUnits                 *int
	MaxDevicesPerIdentity    *int
	SendEmail                *bool
	SendSms                  *bool
	SSIDs                    []string
	PortalAllowed            *bool
	LoginText                *string
	Title                    *string
	Subtitle                 *string
	MainColor                *string
	AccentColor              *string
	SeparatorColor           *string
	TextColor                *string
	TenantSetDpsk            *bool
	PassphraseLength         *int
}

// Validate checks every set field (BAD_USER_INPUT naming each bad one).
// Field names are the admin tool's flag names.
func (in PropertyInput) Validate() error {
	var v model.Validator
	text := func(field string, s *string, max int) {
		if s != nil {
			v.Add(field, model.ValidateText(*s, max))
		}
	}
	if in.Name != nil {
		v.Check(strings.TrimSpace(*in.Name) != "", "name", "must not be empty")
	}
	text("name", in.Name, model.MaxNameLength)
	text("address", in.Address, model.MaxTextLength)
	text("description", in.Description, 4096)
	text("management-name", in.ManagementName, model.MaxNameLength)
	text("management-phone", in.ManagementPhone, 32)
	if in.ManagementEmail != nil {
		v.Add("management-email", model.ValidateEmail(*in.ManagementEmail))
	}
	text("help-text", in.HelpText, 16384)
	text("announcements", in.Announcements, 16384)
	text("login-text", in.LoginText, 4096)
	text("title", in.Title, model.MaxNameLength)
	text("subtitle", in.Subtitle, model.MaxNameLength)
	for field, c := range map[string]*string{"main-color": in.MainColor, "accent-color": in.AccentColor,
		"separator-color": in.SeparatorColor, "text-color": in.TextColor} {
		if c != nil {
			v.Add(field, model.ValidateColor(*c))
		}
	}
	if in.MaxDevicesPerIdentity != nil {
		v.Check(*in.MaxDevicesPerIdentity >= 0 && *in.MaxDevicesPerIdentity <= 1000, "max-devices-per-identity", "must be 0 (no cap) to 1000")
	}
	if in.MaxUnits != nil {
		v.Check(*in.MaxUnits >= 0, "max-units", "must not be negative")
	}
	if in.PassphraseLength != nil {
		v.Check(*in.PassphraseLength >= model.MinPassphraseLength && *in.PassphraseLength <= model.MaxPassphraseLength,
			"passphrase-length", "must be between 8 and 63")
	}
	for _, s := range in.SSIDs {
		v.Check(len(s) >= 1 && len(s) <= 32, "ssid", "must be 1 to 32 bytes")
	}
	return v.Err()
}

// assignments lists the column = value pairs of the set fields.
func (in PropertyInput) assignments() (cols []string, args []any) {
	add := func(col string, set bool, v any) {
		if set {
			cols = append(cols, col)
			args = append(args, v)
		}
	}
	add("name", in.Name != nil, in.Name)
	add("address", in.Address != nil, in.Address)
	add("description", in.Description != nil, in.Description)
	add("management_name", in.ManagementName != nil, in.ManagementName)
	add("management_phone", in.ManagementPhone != nil, in.ManagementPhone)
	add("management_email", in.ManagementEmail != nil, in.ManagementEmail)
	add("help_text", in.HelpText != nil, in.HelpText)
	add("announcements", in.Announcements != nil, in.Announcements)
	add("allow_separate_guest_secret", in.AllowSeparateGuestSecret != nil, in.AllowSeparateGuestSecret)
	add("enforce_max_units", in.EnforceMaxUnits != nil, in.EnforceMaxUnits)
	add("max_units", in.MaxUnits != nil, in.MaxUnits)
	add("max_devices_per_identity", in.MaxDevicesPerIdentity != nil, in.MaxDevicesPerIdentity)
	add("send_email", in.SendEmail != nil, in.SendEmail)
	add("send_sms", in.SendSms != nil, in.SendSms)
	add("ssids", in.SSIDs != nil, in.SSIDs)
	add("portal_allowed", in.PortalAllowed != nil, in.PortalAllowed)
	add("login_text", in.LoginText != nil, in.LoginText)
	add("title", in.Title != nil, in.Title)
	add("subtitle", in.Subtitle != nil, in.Subtitle)
	add("main_color", in.MainColor != nil, in.MainColor)
	add("accent_color", in.AccentColor != nil, in.AccentColor)
	add("separator_color", in.SeparatorColor != nil, in.SeparatorColor)
	add("text_color", in.TextColor != nil, in.TextColor)
	add("tenant_set_dpsk", in.TenantSetDpsk != nil, in.TenantSetDpsk)
	add("passphrase_length", in.PassphraseLength != nil, in.PassphraseLength)
	return cols, args
}

// CreateProperty inserts a property. Name is required (BAD_USER_INPUT).
func (db *DB) CreateProperty(ctx context.Context, in PropertyInput) (model.Property, error) {
	if err := in.Validate(); err != nil {
		return model.Property{}, err
	}
	if in.Name == nil {
		return model.Property{}, model.InvalidField("name", "is required")
	}
	var p model.Property
	err := db.inTx(ctx, "db.CreateProperty", func(tx pgx.Tx) error {
		id := in.ID
		if id == uuid.Nil {
			id = uuid.New()
		}
		cols, args := in.assignments()
		ph := make([]string, len(cols))
		for i := range cols {
			ph[i] = fmt.Sprintf("$%d", i+2)
		}
		sql := `INSERT INTO properties (id, ` + strings.Join(cols, ", ") + `) VALUES ($1, ` + strings.Join(ph, ", ") + `)`
		if _, err := tx.Exec(ctx, sql, append([]any{id}, args...)...); err != nil {
			return err
		}
		var err error
		p, err = propertyByID(ctx, tx, id, false)
		return err
	})
	return p, err
}

// UpdateProperty changes the set fields of a property. Allowing a separate
// guest secret gives every unit its GUEST identity; withdrawing it removes
// them (with their devices), each with a change request. Switching the
// portal off or removing guests is seen by token checks through the caller's
// revocation notice. NOT_FOUND, BAD_USER_INPUT.
func (db *DB) UpdateProperty(ctx context.Context, id uuid.UUID, in PropertyInput) (model.Property, error) {
	if err := in.Validate(); err != nil {
		return model.Property{}, err
	}
	var p model.Property
	err := db.inTx(ctx, "db.UpdateProperty", func(tx pgx.Tx) error {
		keys := db.keys
		if in.AllowSeparateGuestSecret != nil {
			var err error
			if keys, err = db.sealingKey(ctx, tx); err != nil {
				return err
			}
		}
		cur, err := propertyByID(ctx, tx, id, true)
		if err != nil {
			return err
		}
		cols, args := in.assignments()
		if len(cols) > 0 {
			set := make([]string, len(cols))
			for i, c := range cols {
				set[i] = fmt.Sprintf("%s = $%d", c, i+2)
			}
			sql := `UPDATE properties SET ` + strings.Join(set, ", ") + `, updated_at = now() WHERE id = $1`
			if _, err := tx.Exec(ctx, sql, append([]any{id}, args...)...); err != nil {
				return err
			}
		}
		if in.AllowSeparateGuestSecret != nil && *in.AllowSeparateGuestSecret != cur.AllowSeparateGuestSecret {
			if err := db.syncGuestIdentities(ctx, tx, keys, id, *in.AllowSeparateGuestSecret); err != nil {
				return err
			}
		}
		p, err = propertyByID(ctx, tx, id, false)
		return err
	})
	return p, err
}

// syncGuestIdentities adds a GUEST identity to every unit of the property
// that lacks one (allow: IDENTITY_CREATED each) or removes them all
// (withdraw: DEVICE_REMOVED for each of their devices, which go with them,
// then IDENTITY_REMOVED each).
func (db *DB) syncGuestIdentities(ctx context.Context, tx pgx.Tx, keys *model.Keyring, propertyID uuid.UUID, allow bool) error {
	if !allow {
		if _, err := tx.Exec(ctx, `INSERT INTO change_requests (id, kind, property_id, unit_id, user_id, device_id, mac_address, traceparent,
		      session_nas_id, session_id, session_addr)
		    SELECT gen_random_uuid(), 'DEVICE_REMOVED', $1, d.unit_id, d.user_id, d.id, d.mac_address, NULLIF($2, ''),
		      CASE WHEN d.online_until > now() AND d.session_id IS NOT NULL THEN d.session_nas_id END,
		      CASE WHEN d.online_until > now() AND d.session_nas_id IS NOT NULL THEN d.session_id END,
		      CASE WHEN d.online_until > now() AND d.session_nas_id IS NOT NULL THEN d.session_addr END
		    FROM devices d JOIN unit_users g ON g.id = d.user_id
		    WHERE g.property_id = $1 AND g.type = 'GUEST' ORDER BY d.unit_id, d.mac_address`, propertyID, traceParent(ctx)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `WITH gone AS (
		    DELETE FROM unit_users WHERE property_id = $1 AND type = 'GUEST' RETURNING id, unit_id)
		  INSERT INTO change_requests (id, kind, property_id, unit_id, user_id, traceparent)
		    SELECT gen_random_uuid(), 'IDENTITY_REMOVED', $1, unit_id, id, NULLIF($2, '') FROM gone`, propertyID, traceParent(ctx))
		return err
	}
	p, err := propertyByID(ctx, tx, propertyID, false)
	if err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT u.id FROM units u WHERE u.property_id = $1
	  AND NOT EXISTS (SELECT 1 FROM unit_users g WHERE g.unit_id = u.id AND g.type = 'GUEST')`, propertyID)
	if err != nil {
		return err
	}
	units, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	for _, unitID := range units {
		u, err := db.insertUnitUser(ctx, tx, keys, p, unitID, model.UserTypeGuest, newUserFields{})
		if err != nil {
			return err
		}
		if _, err := insertChange(ctx, tx, model.ChangeIdentityCreated, propertyID, unitID, &u.ID, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// SetPropertyFile stores (or replaces) a portal file, which must be an
// image of a format model.SniffImage knows, under the content type its
// bytes say. NOT_FOUND, BAD_USER_INPUT.
func (db *DB) SetPropertyFile(ctx context.Context, f model.PropertyFile) error {
	var v model.Validator
	v.Check(f.Type.Valid(), "type", "must be logo or favIcon")
	v.Check(len(f.Data) > 0 && len(f.Data) <= 1<<20, "file", "must be 1 byte to 1 MiB")
	v.Check(f.FileName != "" && len(f.FileName) <= 255, "file", "name must be 1 to 255 characters")
	sniffed, ok := model.SniffImage(f.Data)
	v.Check(ok, "file", "must be a PNG, ICO, JPEG, GIF or WebP image (judged by its content; SVG is not accepted)")
	v.Check(!ok || f.ContentType == sniffed, "file", "content type must be "+sniffed+", as its content says")
	if err := v.Err(); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO property_files (property_id, type, file_name, content_type, data)
	  VALUES ($1, $2, $3, $4, $5)
	  ON CONFLICT (property_id, type) DO UPDATE SET file_name = EXCLUDED.file_name,
	    content_type = EXCLUDED.content_type, data = EXCLUDED.data, updated_at = now()`,
		f.PropertyID, string(f.Type), f.FileName, f.ContentType, f.Data)
	return wrap("db.SetPropertyFile", err)
}

// PropertyFile returns a portal file. NOT_FOUND when the property has no
// such file (or does not exist).
func (db *DB) PropertyFile(ctx context.Context, propertyID uuid.UUID, t model.FileType) (model.PropertyFile, error) {
	f := model.PropertyFile{PropertyID: propertyID, Type: t}
	err := db.pool.QueryRow(ctx, `SELECT file_name, content_type, data FROM property_files
	  WHERE property_id = $1 AND type = $2`, propertyID, string(t)).Scan(&f.FileName, &f.ContentType, &f.Data)
	if err == pgx.ErrNoRows {
		return f, model.ErrNotFound("file")
	}
	return f, wrap("db.PropertyFile", err)
}

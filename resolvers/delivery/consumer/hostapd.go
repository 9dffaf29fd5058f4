package consumer

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
)

// HostapdSink keeps OpenWrt's hostapd in step without RADIUS (SPEC §9.7):
// a wpa_psk_file for one property and SSID, one line per active identity,
//
//	keyid=<identity id> [vlanid=<unit VLAN>] 00:00:00:00:00:00 <passphrase>
//
// (any station may use any line: hostapd finds the line whose passphrase
// made the handshake, and puts the station on its VLAN). The keyid is the
// identity's id in 22 characters (KeyID: base64url of its 16 bytes), since
// hostapd refuses a keyid of 32 characters or more (KEYID_LEN). Written
// atomically (a temporary file beside it, 0600, synced, renamed over it),
// then Reload is run (hostapd_cli reload_wpa_psk). Whatever the change,
// the whole file is written again from the property's current state, so
// applying a change twice, or out of order, leaves the same file. A change
// is APPLIED when the reload succeeds, FAILED with its output otherwise.
type HostapdSink struct {
	API      *API
	Property uuid.UUID
	// SSID is the network the file serves: a passphrase hostapd could not
	// read back from the file as it is (one that begins with a space) is
	// written as its PSK for this SSID instead (64 hex digits).
	SSID string
	Path string
	// Reload is the command run after each write (argv; nil: none),
	// within ReloadTimeout (default 10 s).
	Reload        []string
	ReloadTimeout time.Duration
}

// Apply implements Sink.
func (s *HostapdSink) Apply(ctx context.Context, c Change) error {
	if c.PropertyID != s.Property {
		return fmt.Errorf("a change of property %s reached the hostapd file of %s", c.PropertyID, s.Property)
	}
	return s.Sync(ctx)
}

// Sync writes the file from the property's current state and reloads
// hostapd (portal-wifisync does it once at start, so that an access point
// that was away is in step before the next change).
func (s *HostapdSink) Sync(ctx context.Context) error {
	ids, err := s.API.Identities(ctx, s.Property)
	if err != nil {
		return err
	}
	if err := writeAtomically(s.Path, s.render(ids)); err != nil {
		return err
	}
	return s.reload(ctx)
}

// render is the file's text: a header, then the active identities of
// enabled units, in the order the API lists them.
func (s *HostapdSink) render(ids []Identity) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# wpa_psk_file for SSID %q, written by portal-wifisync from property %s; do not edit.\n", s.SSID, s.Property)
	for _, id := range ids {
		if id.Status != "ACTIVE" || id.UnitStatus != "ENABLED" {
			continue
		}
		b.WriteString("keyid=" + KeyID(id.ID))
		if id.VLAN != nil {
			fmt.Fprintf(&b, " vlanid=%d", *id.VLAN)
		}
		b.WriteString(" 00:00:00:00:00:00 ")
		if strings.HasPrefix(id.Passphrase, " ") {
			// hostapd skips the spaces before the passphrase.
			psk := pbkdf2Key(id.Passphrase, s.SSID)
			b.WriteString(hex.EncodeToString(psk))
		} else {
			b.WriteString(id.Passphrase)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// KeyID is an identity's keyid in a hostapd file: its id's 16 bytes in
// base64url, 22 characters (hostapd logs it when a station connects).
func KeyID(id uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func pbkdf2Key(passphrase, ssid string) []byte {
	k, _ := pbkdf2.Key(sha1.New, passphrase, []byte(ssid), 4096, 32)
	return k
}

// writeAtomically replaces path with b: readers see the old file or the
// new one, never a part.
func writeAtomically(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename: nothing there
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// reload runs the reload command; its output is the error when it fails.
func (s *HostapdSink) reload(ctx context.Context) error {
	if len(s.Reload) == 0 {
		return nil
	}
	timeout := s.ReloadTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.Reload[0], s.Reload[1:]...).CombinedOutput()
	text := strings.TrimSpace(string(out))
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("the reload did not end within %v: %s", timeout, text)
	case err != nil:
		return fmt.Errorf("the reload failed (%v): %s", err, text)
	case strings.Contains(text, "FAIL"): // hostapd_cli prints FAIL and exits 0
		return fmt.Errorf("the reload failed: %s", text)
	}
	return nil
}

// Identity is a unit user as a hostapd file needs it: its passphrase,
// status, and its unit's status and VLAN.
type Identity struct {
	ID         uuid.UUID
	Status     string
	Passphrase string
	UnitStatus string
	VLAN       *int
}

// Identities reads every identity of a property, a page of units at a
// time.
func (a *API) Identities(ctx context.Context, property uuid.UUID) ([]Identity, error) {
	var out []Identity
	var after *string
	for {
		var page struct {
			Property struct {
				Units struct {
					PageInfo struct {
						HasNextPage bool
						EndCursor   *string
					}
					Edges []struct {
						Node struct {
							Status string
							VlanID *int
							Users  struct {
								PageInfo struct{ HasNextPage bool }
								Edges    []struct {
									Node struct {
										ID         uuid.UUID
										Status     string
										Passphrase string
									}
								}
							}
						}
					}
				}
			}
		}
		if err := a.do(ctx, property, IdentitiesQuery, map[string]any{"p": property, "after": after}, &page); err != nil {
			return nil, err
		}
		units := page.Property.Units
		for _, e := range units.Edges {
			if e.Node.Users.PageInfo.HasNextPage {
				return nil, errors.New("a unit has more than 100 identities; the file would miss some")
			}
			for _, u := range e.Node.Users.Edges {
				out = append(out, Identity{ID: u.Node.ID, Status: u.Node.Status, Passphrase: u.Node.Passphrase,
					UnitStatus: e.Node.Status, VLAN: e.Node.VlanID})
			}
		}
		if !units.PageInfo.HasNextPage || units.PageInfo.EndCursor == nil {
			return out, nil
		}
		after = units.PageInfo.EndCursor
	}
}

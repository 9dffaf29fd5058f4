package service

import (
	"crypto/sha256"
	"sync"

	"github.com/google/uuid"
	"github.com/maypok86/otter/v2"
	"github.com/residentportal/bff/graph/model"
)

// pmkCache keeps the PMK of each identity's passphrase on each SSID, in
// memory only and bounded: derived once (PBKDF2, 4096 rounds), dropped
// when the passphrase changes — an entry holds its passphrase's digest and
// one that no longer matches is derived again, so a new passphrase,
// wherever it was set, is never matched by the old one's PMK.
type pmkCache struct {
	c       *otter.Cache[pmkKey, pmkEntry]
	warming sync.Map // pmkWarm → struct{}: one warm-up at a time per property and SSID
}

type pmkKey struct {
	identity uuid.UUID
	ssid     string
}

type pmkEntry struct {
	digest [32]byte
	pmk    [32]byte
}

type pmkWarm struct {
	property uuid.UUID
	ssid     string
}

// maxPMKs bounds the cache (about 150 bytes an entry).
const maxPMKs = 200_000

func newPMKCache() *pmkCache {
	return &pmkCache{c: otter.Must(&otter.Options[pmkKey, pmkEntry]{MaximumSize: maxPMKs})}
}

func (p *pmkCache) get(identity uuid.UUID, ssid, passphrase string) ([32]byte, bool) {
	e, ok := p.c.GetIfPresent(pmkKey{identity, ssid})
	if !ok || e.digest != sha256.Sum256([]byte(passphrase)) {
		return [32]byte{}, false
	}
	return e.pmk, true
}

func (p *pmkCache) derive(identity uuid.UUID, ssid, passphrase string) [32]byte {
	pmk := wpaPMK(passphrase, ssid)
	p.c.Set(pmkKey{identity, ssid}, pmkEntry{digest: sha256.Sum256([]byte(passphrase)), pmk: pmk})
	return pmk
}

// warm derives the missing PMKs of candidates in the background, one
// goroutine per property and SSID at a time.
func (p *pmkCache) warm(property uuid.UUID, ssid string, candidates []model.WifiDevice) {
	key := pmkWarm{property, ssid}
	if _, busy := p.warming.LoadOrStore(key, struct{}{}); busy {
		return
	}
	go func() {
		defer p.warming.Delete(key)
		for _, c := range candidates {
			if _, ok := p.get(c.UserID, ssid, c.Passphrase); !ok {
				p.derive(c.UserID, ssid, c.Passphrase)
			}
		}
	}()
}

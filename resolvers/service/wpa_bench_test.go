package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// candidatesStore serves a property's identities and no devices: the
// handshake of a device no one has seen, the expensive path of SPEC §9.3.
type candidatesStore struct {
	Store
	all []model.WifiDevice
}

func (c candidatesStore) WifiDevicesByMAC(context.Context, uuid.UUID, string) ([]model.WifiDevice, error) {
	return nil, nil
}

func (c candidatesStore) AddDevice(_ context.Context, _ model.Scope, n model.NewDevice) (model.Device, error) {
	return model.Device{ID: uuid.New(), UserID: n.UserID, MACAddress: n.MACAddress}, nil
}

func (c candidatesStore) WifiCandidates(context.Context, uuid.UUID, int) ([]model.WifiDevice, error) {
	return c.all, nil
}

// BenchmarkHandshakeUnknownDevice: a device unknown to the property of
// 10,000 identities whose passphrase is the last one tried, PMKs derived
// (the server's steady state). SPEC §9.6: ≤ 50 ms of CPU a request.
func BenchmarkHandshakeUnknownDevice(b *testing.B) {
	const n = 10_000
	st := candidatesStore{}
	for i := range n {
		st.all = append(st.all, model.WifiDevice{UserID: uuid.New(), UnitID: uuid.New(), UserStatus: model.UserActive,
			UnitStatus: model.UnitEnabled, Passphrase: fmt.Sprintf("passphrase-%05d", i)})
	}
	keys, _ := model.NewKeyring("bench-secret-key-0123456789abcdef-0123456789")
	s := New(st, keys, Options{})
	for _, c := range st.all {
		s.pmks.derive(c.UserID, "Residents", c.Passphrase)
	}
	aa, spa := []byte{10, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 9}
	anonce, snonce := make([]byte, 32), make([]byte, 32)
	anonce[0], snonce[0] = 1, 2
	frame := make([]byte, eapolMinLength)
	frame[0], frame[1], frame[3] = 1, 3, byte(eapolMinLength-4)
	frame[5], frame[6] = 0x01, 0x0a
	copy(frame[eapolNonceAt:], snonce)
	last := st.all[n-1]
	pmk := wpaPMK(last.Passphrase, "Residents")
	kck := prf(pmk[:], "Pairwise key expansion", ptkData(aa, spa, anonce, snonce), 16)
	h := hmac.New(sha1.New, kck)
	h.Write(frame)
	copy(frame[eapolMICAt:], h.Sum(nil)[:16])
	nas := model.NASClient{NAS: model.NAS{PropertyID: uuid.New()}, SSIDs: []string{"Residents"}}
	hs := Handshake{SPA: "02:00:00:00:00:09", AA: "0A:00:00:00:00:01", SSID: "Residents", ANonce: anonce, Frame: frame}
	for b.Loop() {
		a, err := s.AuthorizeHandshake(context.Background(), nas, hs)
		if err != nil || !a.Granted || a.Tried != n {
			b.Fatalf("granted %v after %d, err %v", a.Granted, a.Tried, err)
		}
	}
}

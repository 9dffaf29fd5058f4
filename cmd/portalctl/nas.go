package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/residentportal/bff/graph/model"
)

// Access points (NAS clients, SPEC §9.1): add, list, show, remove,
// rotate-secret, and their RadSec certificates (register-cert,
// issue-cert). A secret is printed once, when it is made.

func nasJSON(n model.NAS) map[string]any {
	var pin any // null: no RadSec certificate pinned
	if n.CertSHA256 != nil {
		pin = hex.EncodeToString(n.CertSHA256)
	}
	return map[string]any{"nasId": n.ID, "propertyId": n.PropertyID, "name": n.Name, "address": n.Address.String(),
		"profile": string(n.Profile), "coaPort": n.CoAPort, "radsecCertSha256": pin, "createdAt": n.CreatedAt.UTC().Format(time.RFC3339),
		"updatedAt": n.UpdatedAt.UTC().Format(time.RFC3339)}
}

func cmdNASAdd(e *env, args []string) (any, error) {
	f := newFlags("nas add")
	f.String("property", "", "property id")
	name := f.String("name", "", "the access point's name (unique in the property)")
	address := f.String("address", "", "the address (or network, CIDR) its RADIUS packets come from")
	profile := f.String("profile", "", "hostapd | cisco | meraki | mist | aruba | ruckus")
	coaPort := f.Int("coa-port", 3799, "its port for Disconnect-Requests (RFC 5176)")
	if err := f.parse(args, "property", "name", "address", "profile"); err != nil {
		return nil, err
	}
	propertyID, err := f.uuid("property")
	if err != nil {
		return nil, err
	}
	addr, err := model.ParseNASAddress(*address)
	if err != nil {
		return nil, usagef("--address: %s", model.ErrorMessage(err))
	}
	p, err := model.ParseNASProfile(*profile)
	if err != nil {
		return nil, usagef("--profile: %s", model.ErrorMessage(err))
	}
	if *coaPort < 1 || *coaPort > 65535 {
		return nil, usagef("--coa-port: must be a port (1–65535)")
	}
	if n := strings.TrimSpace(*name); n == "" || len(n) > 255 {
		return nil, usagef("--name: must be 1 to 255 characters")
	}
	created, err := e.store.CreateNAS(e.ctx, model.NAS{PropertyID: propertyID, Name: strings.TrimSpace(*name), Address: addr, Profile: p, CoAPort: *coaPort})
	if err != nil {
		return nil, err
	}
	out := nasJSON(created.NAS)
	out["secret"] = created.Secret
	return out, nil
}

func cmdNASList(e *env, args []string) (any, error) {
	id, err := propertyFlag("nas list", args)
	if err != nil {
		return nil, err
	}
	if _, err := e.store.PropertyByID(e.ctx, id); err != nil {
		return nil, err
	}
	all, err := e.store.NASList(e.ctx, id)
	out := make([]map[string]any, 0, len(all))
	for _, n := range all {
		out = append(out, nasJSON(n))
	}
	return map[string]any{"accessPoints": out}, err
}

func cmdNASShow(e *env, args []string) (any, error) {
	id, err := idFlag("nas show", "nas", args)
	if err != nil {
		return nil, err
	}
	n, err := e.store.NASByID(e.ctx, id)
	if err != nil {
		return nil, err
	}
	return nasJSON(n), nil
}

func cmdNASRemove(e *env, args []string) (any, error) {
	id, err := idFlag("nas remove", "nas", args)
	if err != nil {
		return nil, err
	}
	n, err := e.store.RemoveNAS(e.ctx, id)
	if err != nil {
		return nil, err
	}
	return nasJSON(n), nil
}

func cmdNASRotateSecret(e *env, args []string) (any, error) {
	id, err := idFlag("nas rotate-secret", "nas", args)
	if err != nil {
		return nil, err
	}
	created, err := e.store.RotateNASSecret(e.ctx, id)
	if err != nil {
		return nil, err
	}
	out := nasJSON(created.NAS)
	out["secret"] = created.Secret
	return out, nil
}

// cmdNASRegisterCert pins an access point's RadSec client certificate (PEM
// file) by its SHA-256; "none" unpins it.
func cmdNASRegisterCert(e *env, args []string) (any, error) {
	f := newFlags("nas register-cert")
	f.String("nas", "", "access point id")
	file := f.String("cert", "", "its client certificate (PEM), or none")
	if err := f.parse(args, "nas", "cert"); err != nil {
		return nil, err
	}
	id, err := f.uuid("nas")
	if err != nil {
		return nil, err
	}
	var sum []byte
	if *file != "none" {
		raw, err := os.ReadFile(*file)
		if err != nil {
			return nil, usagef("--cert: %v", err)
		}
		block, _ := pem.Decode(raw)
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, usagef("--cert: no PEM certificate in %s", *file)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, usagef("--cert: %v", err)
		}
		s := sha256.Sum256(block.Bytes)
		sum = s[:]
	}
	n, err := e.store.SetNASCertificate(e.ctx, id, sum)
	if err != nil {
		return nil, err
	}
	return nasJSON(n), nil
}

// cmdNASIssueCert makes a key and a self-signed client certificate for an
// access point (ECDSA P-256, its name as the subject, valid --days), writes
// both (the key 0600), and pins the certificate.
func cmdNASIssueCert(e *env, args []string) (any, error) {
	f := newFlags("nas issue-cert")
	f.String("nas", "", "access point id")
	certOut := f.String("cert-out", "", "where to write the certificate (PEM)")
	keyOut := f.String("key-out", "", "where to write the private key (PEM, mode 0600)")
	days := f.Int("days", 825, "validity in days")
	if err := f.parse(args, "nas", "cert-out", "key-out"); err != nil {
		return nil, err
	}
	id, err := f.uuid("nas")
	if err != nil {
		return nil, err
	}
	if *days < 1 || *days > 3650 {
		return nil, usagef("--days: 1 to 3650")
	}
	n, err := e.store.NASByID(e.ctx, id)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: n.Name, SerialNumber: n.ID.String()},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, *days), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(*keyOut, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, usagef("--key-out: %v", err)
	}
	if err := os.WriteFile(*certOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, usagef("--cert-out: %v", err)
	}
	sum := sha256.Sum256(der)
	if n, err = e.store.SetNASCertificate(e.ctx, id, sum[:]); err != nil {
		return nil, err
	}
	out := nasJSON(n)
	out["certificate"], out["key"], out["notAfter"] = *certOut, *keyOut, tpl.NotAfter.UTC().Format(time.RFC3339)
	return out, nil
}

package radiustest

import (
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
)

// The tests' own AES-CMAC against RFC 4493 §4's examples.
func TestCMACTestVectors(t *testing.T) {
	key, _ := hex.DecodeString("2b7e151628aed2a6abf7158809cf4f3c")
	msg, _ := hex.DecodeString("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	for n, want := range map[int]string{0: "bb1d6929e95937287fa37d129b756746", 16: "070a16b46b4d4144f79bdd9dd04a287c",
		40: "dfa66747de9ae63030ca32611497c827", 64: "51f0bebf7e3b9d92fc49741779363cfe"} {
		if got := hex.EncodeToString(aesCMAC(key, msg[:n])); got != want {
			t.Errorf("CMAC of %d bytes = %s, want %s", n, got, want)
		}
	}
}

// The access point stand-in's checks and answers agree with FreeRADIUS's:
// radclient's Disconnect-Request (its Message-Authenticator made by
// FreeRADIUS) passes them, and radclient reads its ACK and its NAK with an
// Error-Cause.
func TestNASStandInAgreesWithRadclient(t *testing.T) {
	if _, err := exec.LookPath("radclient"); err != nil {
		t.Skip("radclient is not installed (.ci/services.sh radclient)")
	}
	n := StartNAS(t)
	n.SetSecret("coa-secret")
	server := n.Addr.String()
	attrs := []string{`User-Name = "aabbcc000001"`, `Calling-Station-Id = "AA-BB-CC-00-00-01"`, `Acct-Session-Id = "s1"`}
	out, err := Radclient(server, "disconnect", "coa-secret", attrs...)
	if err != nil || !strings.Contains(out, "Received Disconnect-ACK") {
		t.Fatalf("ACK: %v\n%s", err, out)
	}
	n.SetAnswer(Answer{NAK: true, Cause: 506})
	out, err = Radclient(server, "disconnect", "coa-secret", attrs...)
	if err != nil || !strings.Contains(out, "Received Disconnect-NAK") || !strings.Contains(out, "Error-Cause = Resources-Unavailable") {
		t.Fatalf("NAK: %v\n%s", err, out)
	}
	got, bad := n.Received()
	if len(bad) > 0 || len(got) != 2 || got[0].AcctSessionID != "s1" || got[0].CallingStationID != "AA-BB-CC-00-00-01" {
		t.Fatalf("received %+v, refused %v", got, bad)
	}
	// A request under another secret is refused.
	if out, _ := Radclient(server, "disconnect", "wrong", attrs...); strings.Contains(out, "Received") {
		t.Fatalf("answered under a wrong secret:\n%s", out)
	}
	if _, bad := n.Received(); len(bad) != 1 {
		t.Fatalf("refused %v", bad)
	}
}

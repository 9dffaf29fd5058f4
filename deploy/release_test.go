// Package deploy holds what an operator installs (the Debian package's
// files, systemd units, the release script) and the test of `make release`.
package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// `make release` for this machine's platform, into a folder of the test's
// own: the archive, the Debian package and the image are there with their
// checksums and SBOM; the package holds the programs, both units (which
// systemd-analyze verify accepts) and settings files kept on upgrade. (The
// image's own test runs portald from it: cmd/internal/mkimage.)
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("a release build: make test runs it, make check does not")
	}
	for _, tool := range []string{"dpkg-deb", "systemd-analyze", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI (.ci/services.sh release installs it)", tool)
			}
			t.Skipf("no %s here", tool)
		}
	}
	dist := t.TempDir()
	cmd := exec.Command("bash", "deploy/release.sh")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "DIST="+dist, "ARCHES="+runtime.GOARCH, "VERSION=v1.2.3-test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	run := func(dir, name string, args ...string) string {
		t.Helper()
		c := exec.Command(name, args...)
		c.Dir = dir
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	sums := run(dist, "sha256sum", "-c", "SHA256SUMS")
	deb := "resident-portal_1.2.3-test_" + runtime.GOARCH + ".deb"
	for _, f := range []string{deb, "resident-portal_v1.2.3-test_linux_" + runtime.GOARCH + ".tar.gz",
		"resident-portal_v1.2.3-test_image.oci.tar", "resident-portal_v1.2.3-test.cdx.json"} {
		if !strings.Contains(sums, f+": OK") {
			t.Fatalf("SHA256SUMS does not vouch for %s:\n%s", f, sums)
		}
	}
	if v := run(dist, filepath.Join(dist, "linux-"+runtime.GOARCH, "portald"), "--version"); !strings.HasPrefix(v, "portald v1.2.3-test (") {
		t.Fatalf("portald --version: %q", v)
	}

	// The package.
	info := run(dist, "dpkg-deb", "--info", deb)
	for _, want := range []string{"Package: resident-portal", "Version: 1.2.3-test", "Architecture: " + runtime.GOARCH} {
		if !strings.Contains(info, want) {
			t.Fatalf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	root := filepath.Join(t.TempDir(), "root")
	run(dist, "dpkg-deb", "-x", deb, root)
	ctrl := filepath.Join(t.TempDir(), "control")
	run(dist, "dpkg-deb", "-e", deb, ctrl)
	if b, err := os.ReadFile(filepath.Join(ctrl, "conffiles")); err != nil || !strings.Contains(string(b), "/etc/default/portald") ||
		!strings.Contains(string(b), "/etc/default/portal-wifisync") {
		t.Fatalf("conffiles (kept on upgrade): %q, %v", b, err)
	}
	for _, f := range []string{"usr/bin/portald", "usr/bin/portalctl", "usr/bin/portal-wifisync"} {
		if st, err := os.Stat(filepath.Join(root, f)); err != nil || st.Mode().Perm() != 0o755 {
			t.Fatalf("%s: %v %v", f, st, err)
		}
	}
	if st, err := os.Stat(filepath.Join(root, "etc/default/portald")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("/etc/default/portald (it will hold SECRET_KEY): %v %v", st, err)
	}
	// The units, as systemd reads them, with their programs at the paths
	// they name (moved under the unpacked root).
	units := t.TempDir()
	for _, u := range []string{"portald.service", "portal-wifisync.service"} {
		b, err := os.ReadFile(filepath.Join(root, "lib/systemd/system", u))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, want := range []string{"DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "EnvironmentFile=/etc/default/"} {
			if !strings.Contains(text, want) {
				t.Fatalf("%s lacks %s", u, want)
			}
		}
		text = strings.ReplaceAll(text, "ExecStart=/usr/bin/", "ExecStart="+root+"/usr/bin/")
		text = strings.ReplaceAll(text, "EnvironmentFile=/etc/", "EnvironmentFile="+root+"/etc/")
		if err := os.WriteFile(filepath.Join(units, u), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(units, "portald.service"), filepath.Join(units, "portal-wifisync.service"))
	out, err := c.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// Other units of this machine may draw remarks; ours may not.
		if strings.Contains(line, "portald.service") || strings.Contains(line, "portal-wifisync.service") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	if err != nil && !t.Failed() {
		t.Logf("systemd-analyze verify exited %v (about other units):\n%s", err, out)
	}

	// The SBOM names the modules portald is built from.
	var sbom struct {
		BOMFormat  string `json:"bomFormat"`
		Components []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"components"`
	}
	b, err := os.ReadFile(filepath.Join(dist, "resident-portal_v1.2.3-test.cdx.json"))
	if err != nil || json.Unmarshal(b, &sbom) != nil || sbom.BOMFormat != "CycloneDX" {
		t.Fatalf("SBOM: %v %.200s", err, b)
	}
	found := false
	for _, c := range sbom.Components {
		found = found || (strings.HasSuffix(c.Name, "jackc/pgx/v5") && c.Version != "")
	}
	if !found {
		t.Fatalf("the SBOM's %d components do not include pgx", len(sbom.Components))
	}
	// The image layout indexes this platform.
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if b, err := os.ReadFile(filepath.Join(dist, "image", "index.json")); err != nil || json.Unmarshal(b, &idx) != nil || len(idx.Manifests) != 1 {
		t.Fatalf("image index: %v %s", err, b)
	}
}

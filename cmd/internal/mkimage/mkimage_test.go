package main

import (
	"archive/tar"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/residentportal/bff/db/dbtest"
)

// The image as a container engine would run it: the release's static
// binaries built for this machine, the image written as an OCI layout and
// read back, its filesystem unpacked, and portald started from it with the
// image's user, entrypoint and environment against a test database, until
// /readyz answers 200.
func TestImageRunsPortaldAsItsUser(t *testing.T) {
	if testing.Short() {
		t.Skip("static builds of the three programs: make test runs it, make check does not")
	}
	bin := t.TempDir()
	build := exec.Command("go", append([]string{"build", "-trimpath", "-o", bin + "/",
		"-ldflags", "-X github.com/residentportal/bff/cmd/internal/version.Version=v0.0.0-test"}, pkgs()...)...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Dir = "../../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	epoch := time.Unix(1_700_000_000, 0).UTC()
	img, err := Image(bin, runtime.GOARCH, "v0.0.0-test", epoch)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Image(bin, runtime.GOARCH, "v0.0.0-test", epoch)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := digest(t, img), digest(t, again); a != b {
		t.Fatalf("the same binaries gave two images: %s and %s", a, b)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}}))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Platform.Architecture != runtime.GOARCH {
		t.Fatalf("index: %+v, %v", im, err)
	}
	read, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := read.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || cf.Config.Entrypoint[0] != "/usr/local/bin/portald" || cf.Created.Unix() != epoch.Unix() {
		t.Fatalf("config: user %q, entrypoint %v, created %v", cf.Config.User, cf.Config.Entrypoint, cf.Created)
	}

	// The filesystem, as the engine unpacks it.
	root := filepath.Join(t.TempDir(), "rootfs")
	unpack(t, read, root)
	for p := root; p != "/"; p = filepath.Dir(p) { // the user must reach it
		if err := os.Chmod(p, 0o755); err != nil && !errors.Is(err, os.ErrPermission) {
			t.Fatal(err)
		}
		if p == os.TempDir() {
			break
		}
	}
	portald := filepath.Join(root, "usr/local/bin/portald")
	if out, err := exec.Command(portald, "--version").Output(); err != nil || !strings.HasPrefix(string(out), "portald v0.0.0-test (") {
		t.Fatalf("portald --version: %q, %v", out, err)
	}
	// Static: an empty base has no dynamic loader.
	if f, err := elf.Open(portald); err != nil {
		t.Fatal(err)
	} else {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Fatal("portald is linked dynamically: it cannot run on the image's empty base")
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/passwd")); err != nil || !strings.Contains(string(b), "portal:x:65532:65532:") {
		t.Fatalf("/etc/passwd: %q, %v", b, err)
	}
	public, metrics := freeAddr(t), freeAddr(t)
	cmd := exec.Command(portald)
	cmd.Dir = root
	cmd.Env = append(cf.Config.Env, "DATABASE_URL="+dbtest.NewURL(t), "SECRET_KEY="+dbtest.TestSecretKey,
		"LISTEN_ADDR="+public, "METRICS_ADDR="+metrics)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65532, Gid: 65532}}
	}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	if os.Geteuid() == 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)); err != nil || !strings.Contains(string(b), "\nUid:\t65532\t") {
			t.Fatalf("portald's process does not run as 65532: %v\n%s", err, b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+public+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("/readyz never answered 200; portald said:\n%s", logs.String())
		}
		<-time.After(100 * time.Millisecond)
	}
}

func pkgs() []string {
	out := make([]string, len(Programs))
	for i, p := range Programs {
		out[i] = "./cmd/" + p
	}
	return out
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// unpack writes img's filesystem under root, as a container engine does.
func unpack(t *testing.T, img v1.Image, root string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, os.FileMode(h.Mode)&os.ModePerm); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&os.ModePerm)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

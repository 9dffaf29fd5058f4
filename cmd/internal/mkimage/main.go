// Command mkimage builds portald's OCI image for `make release` without a
// container engine (go-containerregistry): for each platform, the release's
// static binaries (portald, portalctl, portal-wifisync) in one layer on an
// empty base, with an /etc/passwd naming the unprivileged user the image
// runs as (65532) and, when the build machine has one, its CA bundle (for
// TLS to PostgreSQL or NATS). The entrypoint is portald; the same image
// runs portalctl or portal-wifisync with another entrypoint. Every file's
// time is SOURCE_DATE_EPOCH (else 0), so the same binaries give the same
// image. It writes an OCI image layout (an index of the platforms), which
// `skopeo copy oci:DIR docker://…` or `podman load` take.
//
//	mkimage -version v1.2.3 -out dist/image linux/amd64=dist/linux-amd64 linux/arm64=dist/linux-arm64
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user the image runs as (the number distroless images use).
const uid = 65532

// Programs are the binaries each platform's folder must hold.
var Programs = []string{"portald", "portalctl", "portal-wifisync"}

// caBundle is where the build machine's CA certificates are (Debian's
// ca-certificates), copied into the image when present.
const caBundle = "/etc/ssl/certs/ca-certificates.crt"

func main() {
	version := flag.String("version", "devel", "the release's version (an image label)")
	out := flag.String("out", "dist/image", "OCI image layout to write")
	flag.Parse()
	epoch := time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			log.Fatalf("SOURCE_DATE_EPOCH: %v", err)
		}
		epoch = time.Unix(n, 0).UTC()
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arg := range flag.Args() {
		platform, dir, ok := strings.Cut(arg, "=")
		goos, arch, ok2 := strings.Cut(platform, "/")
		if !ok || !ok2 || goos != "linux" {
			log.Fatalf("%q is not linux/<arch>=<folder of binaries>", arg)
		}
		img, err := Image(dir, arch, *version, epoch)
		if err != nil {
			log.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	if err := os.RemoveAll(*out); err != nil {
		log.Fatal(err)
	}
	if _, err := layout.Write(*out, idx); err != nil {
		log.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: OCI image layout, index %s\n", *out, d)
}

// Image is one platform's image: dir's binaries on an empty base.
func Image(dir, arch, version string, epoch time.Time) (v1.Image, error) {
	files := map[string][]byte{
		"etc/passwd": fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nportal:x:%d:%d:portal:/nonexistent:/sbin/nologin\n", uid, uid),
		"etc/group":  fmt.Appendf(nil, "root:x:0:\nportal:x:%d:\n", uid),
	}
	if ca, err := os.ReadFile(caBundle); err == nil {
		files[strings.TrimPrefix(caBundle, "/")] = ca
	}
	for _, p := range Programs {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			return nil, fmt.Errorf("the %s binary: %w", arch, err)
		}
		files["usr/local/bin/"+p] = b
	}
	layer, err := layerOf(files, epoch)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", arch, v1.Time{Time: epoch}
	cf.Config.User = fmt.Sprintf("%d:%d", uid, uid)
	cf.Config.Entrypoint = []string{"/usr/local/bin/portald"}
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"PATH=/usr/local/bin", "LISTEN_ADDR=:8080", "METRICS_ADDR=:9090"}
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}, "9090/tcp": {}, "1812/udp": {}, "1813/udp": {}, "2083/tcp": {}}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "portald",
		"org.opencontainers.image.description": "Resident portal: GraphQL, the vendor's REST API, the resident page and RADIUS",
		"org.opencontainers.image.version":     version,
	}
	return mutate.ConfigFile(img, cf)
}

// layerOf is a tar layer of files (folders made as needed), owned by root,
// binaries executable, all of one time.
func layerOf(files map[string][]byte, epoch time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	hdr := func(h *tar.Header) error {
		h.ModTime, h.Uid, h.Gid, h.Format = epoch, 0, 0, tar.FormatPAX
		return tw.WriteHeader(h)
	}
	if err := hdr(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 01777}); err != nil {
		return nil, err
	}
	for _, n := range names {
		for d := filepath.Dir(n); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	slices.Sort(ds) // a parent before its children
	for _, d := range ds {
		if err := hdr(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		mode := int64(0o644)
		if strings.HasPrefix(n, "usr/local/bin/") {
			mode = 0o755
		}
		if err := hdr(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: mode, Size: int64(len(files[n]))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

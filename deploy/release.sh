#!/usr/bin/env bash
# `make release`: what an operator installs, in dist/ — for linux/amd64 and
# linux/arm64 (ARCHES) the static binaries (a tar.gz each) and a Debian
# package with the systemd units (nfpm); the OCI image of both (an OCI
# layout, and its tar); a CycloneDX SBOM (cyclonedx-gomod); SHA256SUMS of
# them all. VERSION defaults to `git describe`; every file's time is the
# last commit's (SOURCE_DATE_EPOCH), so a release can be built again alike.
# DIST names another output folder (the release test's).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
CYCLONEDX=github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
COMMIT=$(git rev-parse HEAD 2>/dev/null || true)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
ARCHES=${ARCHES:-amd64 arm64}
# Debian versions start with a digit: v1.2.3 → 1.2.3, a commit → 0~git<time>.<commit>.
case "$VERSION" in
  v[0-9]*.[0-9]*) DEBVERSION=${VERSION#v} ;;
  [0-9]*.[0-9]*) DEBVERSION=$VERSION ;;
  *) DEBVERSION="0~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S).${VERSION//[^A-Za-z0-9.+~]/.}" ;;
esac
pkg=github.com/residentportal/bff/cmd/internal/version
tarball() { tar --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --sort=name "$@"; }

DIST=${DIST:-dist}
rm -rf "$DIST" && mkdir -p "$DIST"
platforms=()
for arch in $ARCHES; do
  echo "== linux/$arch"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X $pkg.Version=$VERSION -X $pkg.Commit=$COMMIT" -o "$DIST/linux-$arch/" ./cmd/portald ./cmd/portalctl ./cmd/portal-wifisync
  tarball -C "$DIST/linux-$arch" -czf "$DIST/resident-portal_${VERSION}_linux_$arch.tar.gz" portald portalctl portal-wifisync
  sed -e "s#\${ARCH}#$arch#g" -e "s#\${VERSION}#$DEBVERSION#g" -e "s#\${BIN}#$DIST/linux-$arch#g" deploy/nfpm.yaml > "$DIST/nfpm-$arch.yaml"
  go run "$NFPM" package --config "$DIST/nfpm-$arch.yaml" --packager deb --target "$DIST/" >/dev/null
  rm "$DIST/nfpm-$arch.yaml"
  platforms+=("linux/$arch=$DIST/linux-$arch")
done
echo "== image"
go run ./cmd/internal/mkimage -version "$VERSION" -out "$DIST/image" "${platforms[@]}"
tarball -C "$DIST/image" -cf "$DIST/resident-portal_${VERSION}_image.oci.tar" .
echo "== SBOM"
go run "$CYCLONEDX" app -json -licenses=false -main cmd/portald -output "$DIST/resident-portal_${VERSION}.cdx.json" . >/dev/null
(cd "$DIST" && sha256sum ./*.tar.gz ./*.deb ./*.oci.tar ./*.cdx.json | sed 's# \./# #' > SHA256SUMS)
echo "== $DIST/"
(cd "$DIST" && ls -l ./*.tar.gz ./*.deb ./*.oci.tar ./*.cdx.json SHA256SUMS | awk '{print $5, $9}')

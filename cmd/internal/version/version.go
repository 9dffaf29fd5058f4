// Package version says which build a program is: the release's version
// (set by `make release` with -ldflags "-X …/version.Version=v1.2.3"), the
// commit and its time as the Go toolchain recorded them, the Go version and
// the platform.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release's version; "devel" for a build from a checkout.
// Commit, when set the same way, is the commit built (else the one the Go
// toolchain recorded, when it recorded one).
var Version, Commit = "devel", ""

// String is the line `<program> --version` prints.
func String(program string) string {
	commit, when, modified := "unknown commit", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value[:min(12, len(s.Value))]
			case "vcs.time":
				when = " " + s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if modified {
		commit += "+changes"
	}
	if Commit != "" {
		commit = Commit[:min(12, len(Commit))]
	}
	return fmt.Sprintf("%s %s (%s%s, %s, %s/%s)", program, Version, commit, when, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// Asked reports whether args ask for the version (--version or -version).
func Asked(args []string) bool {
	return len(args) == 1 && (args[0] == "--version" || args[0] == "-version")
}

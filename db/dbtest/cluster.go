package dbtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Cluster is a private PostgreSQL server on a spare port, for tests that stop
// and start the database (the machine's shared server is never stopped).
// PostgreSQL refuses to run as root, so as root it runs as the postgres user
// with a data folder that user owns.
type Cluster struct {
	URL  string
	tb   testing.TB
	bin  string
	dir  string
	port int
}

// StartCluster initialises and starts a cluster for tb, removed when tb ends.
// Without PostgreSQL's server binaries the test skips (fails when CI is set).
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	c := newCluster(tb)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	c.Start()
	return c
}

// newCluster initialises a cluster's data folder, owned by the user the
// server runs as, removed when tb ends.
func newCluster(tb testing.TB) *Cluster {
	tb.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if os.Getenv("CI") != "" {
			tb.Fatal("dbtest: PostgreSQL server binaries are required in CI")
		}
		tb.Skip("dbtest: no PostgreSQL server binaries")
	}
	sort.Strings(bins)
	c := &Cluster{tb: tb, bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "portal-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	c.dir = dir
	tb.Cleanup(func() { c.Stop(); os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("dbtest: running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	c.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	return c
}

func (c *Cluster) run(tool string, args ...string) {
	c.tb.Helper()
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(c.bin, tool)}, args...)...)
	} else {
		cmd = exec.Command(filepath.Join(c.bin, tool), args...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		c.tb.Fatalf("dbtest: %s: %v\n%s", tool, err, out)
	}
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.tb.Helper()
	c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "server.log"), "-w",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, c.dir), "start")
}

// Stop stops the server at once (fast shutdown: sessions are ended).
func (c *Cluster) Stop() {
	if _, err := os.Stat(filepath.Join(c.dir, "data", "postmaster.pid")); err != nil {
		return
	}
	c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "stop")
}

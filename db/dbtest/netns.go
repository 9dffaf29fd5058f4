package dbtest

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Netns is a private PostgreSQL in a network namespace of the test's own,
// reached from the test over a veth pair, so that network faults are real:
// BlackHole drops every packet of its port inside the namespace (iptables),
// the way a dead host or a cut link looks; Freeze stops the server's
// processes (SIGSTOP) while the namespace's kernel still acknowledges, the
// way a hung server or a middlebox that still answers TCP looks.
// Only the namespace's own rules are touched, never the machine's.
type Netns struct {
	URL    string // the postgres database, over the veth pair
	Host   string // the server's address
	tb     testing.TB
	ns     string
	pidDir string
	holed  bool
}

// StartNetns makes the namespace and starts PostgreSQL in it, both removed
// when tb ends. It needs root, iproute2 and iptables: without them the test
// skips, or fails when CI is set (.ci/services.sh netns installs them).
func StartNetns(tb testing.TB) *Netns {
	tb.Helper()
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root"
	}
	for _, tool := range []string{"ip", "iptables", "runuser"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing += " " + tool
		}
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("dbtest: network namespaces need%s", missing)
		}
		tb.Skipf("dbtest: network namespaces need%s", missing)
	}
	c := newCluster(tb) // initialised, not started
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	tag := fmt.Sprintf("%x", b)
	// 10.<b1>.<b2&0xfc>.0/30: a link of its own (two tests never share one).
	n := &Netns{tb: tb, ns: "pgf" + tag, pidDir: c.dir}
	base := fmt.Sprintf("10.%d.%d", 64+int(b[0])%64, int(b[1])&0xfc)
	hostIf, nsIf := "pgh"+tag, "pgn"+tag
	n.Host = base + ".2"
	tb.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", n.ns).Run()
		_ = exec.Command("ip", "link", "del", hostIf).Run()
	})
	for _, args := range [][]string{
		{"ip", "netns", "add", n.ns},
		{"ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf},
		{"ip", "link", "set", nsIf, "netns", n.ns},
		{"ip", "addr", "add", base + ".1/30", "dev", hostIf},
		{"ip", "link", "set", hostIf, "up"},
		{"ip", "netns", "exec", n.ns, "ip", "addr", "add", n.Host + "/30", "dev", nsIf},
		{"ip", "netns", "exec", n.ns, "ip", "link", "set", nsIf, "up"},
		{"ip", "netns", "exec", n.ns, "ip", "link", "set", "lo", "up"},
	} {
		n.must(args...)
	}
	hba := filepath.Join(c.dir, "data", "pg_hba.conf")
	if err := appendLine(hba, "host all all "+base+".0/30 trust"); err != nil {
		tb.Fatal(err)
	}
	data := filepath.Join(c.dir, "data")
	n.must("ip", "netns", "exec", n.ns, "runuser", "-u", "postgres", "--", filepath.Join(c.bin, "pg_ctl"), "-D", data,
		"-l", filepath.Join(c.dir, "server.log"), "-w", "-o",
		fmt.Sprintf("-p 5432 -k %s -c listen_addresses=%s -c fsync=off", c.dir, n.Host), "start")
	tb.Cleanup(func() {
		n.Freeze(false)
		_ = exec.Command("runuser", "-u", "postgres", "--", filepath.Join(c.bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop").Run()
	})
	n.URL = fmt.Sprintf("postgres://postgres@%s:5432/postgres?sslmode=disable", n.Host)
	return n
}

// BlackHole drops (on) or lets through (off) every packet to and from the
// server's port, inside the namespace.
func (n *Netns) BlackHole(on bool) {
	n.tb.Helper()
	if on == n.holed {
		return
	}
	n.holed = on
	op := "-I"
	if !on {
		op = "-D"
	}
	n.must("ip", "netns", "exec", n.ns, "iptables", op, "INPUT", "-p", "tcp", "--dport", "5432", "-j", "DROP")
	n.must("ip", "netns", "exec", n.ns, "iptables", op, "OUTPUT", "-p", "tcp", "--sport", "5432", "-j", "DROP")
}

// Freeze stops (on) or continues (off) every process of the server: the
// postmaster first (so that it forks no backend meanwhile), then each of
// its children.
func (n *Netns) Freeze(on bool) {
	pid := n.postmaster()
	if pid == 0 {
		return
	}
	if !on {
		for _, p := range children(pid) {
			_ = syscall.Kill(p, syscall.SIGCONT)
		}
		_ = syscall.Kill(pid, syscall.SIGCONT)
		return
	}
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	for _, p := range children(pid) {
		_ = syscall.Kill(p, syscall.SIGSTOP)
	}
}

func (n *Netns) postmaster() int {
	b, err := os.ReadFile(filepath.Join(n.pidDir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// children are the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(st)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

func (n *Netns) must(args ...string) {
	n.tb.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		n.tb.Fatalf("dbtest: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(line + "\n")
	return err
}

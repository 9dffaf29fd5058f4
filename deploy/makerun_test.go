package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/db/dbtest"
)

// `make run` (.ci/demo.sh) in two checkouts started at once, as two
// developers on one machine would: each serves on ports of its own and
// prints them, the lines it says to paste work against its own server, its
// page and playground links answer, and a second `make run` in a checkout
// whose server runs says so instead of failing on the port.
func TestMakeRunInTwoCheckouts(t *testing.T) {
	if testing.Short() {
		t.Skip("two builds and two servers: make test runs it, make check does not")
	}
	files, err := exec.Command("git", "-C", "..", "ls-files").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	admin := dbtest.AdminURL()
	type checkout struct {
		dir, db string
		out     *dbtest.Buffer
		cmd     *exec.Cmd
	}
	var cos []*checkout
	for i := range 2 {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("checkout-%d", i))
		for _, f := range strings.Split(strings.TrimSpace(string(files)), "\n") {
			copyFile(t, filepath.Join("..", f), filepath.Join(dir, f))
		}
		c := &checkout{dir: dir, db: fmt.Sprintf("resident_portal_test_%d_%d", os.Getpid(), i), out: &dbtest.Buffer{}}
		t.Cleanup(func() { dropDatabase(admin, c.db) })
		cos = append(cos, c)
	}
	env := func(c *checkout) []string {
		// The machine's PostgreSQL and NATS, with this test's database and
		// stream names.
		return append(os.Environ(), "DEMO_DB="+c.db, "NATS_STREAM=TEST_MAKERUN_"+fmt.Sprint(os.Getpid()),
			"NATS_SUBJECT_PREFIX=test.makerun."+fmt.Sprint(os.Getpid()), "LOG_LEVEL=warn")
	}
	for _, c := range cos { // at once
		c.cmd = exec.Command("bash", ".ci/demo.sh")
		c.cmd.Dir, c.cmd.Env = c.dir, env(c)
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = c.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			}
		})
	}
	served := regexp.MustCompile(`(?m)^portald on :(\d+) \(metrics and profiles on 127\.0\.0\.1:(\d+)\)$`)
	ports := map[string]bool{}
	for _, c := range cos {
		var m []string
		for deadline := time.Now().Add(5 * time.Minute); m == nil; {
			m = served.FindStringSubmatch(c.out.String())
			if time.Now().After(deadline) {
				t.Fatalf("%s: make run did not say where it serves:\n%s", c.dir, c.out.String())
			}
			if m == nil {
				<-time.After(200 * time.Millisecond)
			}
		}
		if ports[m[1]] || ports[m[2]] || m[1] == m[2] {
			t.Fatalf("ports taken twice: %v, then %v", ports, m[1:])
		}
		ports[m[1]], ports[m[2]] = true, true
		base := "http://localhost:" + m[1]
		waitOK(t, base+"/readyz")
		text := c.out.String()
		// Every printed link and line names this checkout's own port.
		for _, u := range regexp.MustCompile(`http://localhost:\d+`).FindAllString(text, -1) {
			if u != base {
				t.Fatalf("%s printed %s; it serves %s:\n%s", c.dir, u, base, text)
			}
		}
		var paste []string
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "  TOKEN=") || strings.HasPrefix(l, "  curl ") {
				paste = append(paste, strings.TrimSpace(l))
			}
			if strings.HasPrefix(l, "  "+base+"/portal/") || strings.HasPrefix(l, "  "+base+"/graphiql?") {
				waitOK(t, strings.TrimSpace(l))
			}
		}
		if len(paste) != 2 {
			t.Fatalf("want the two lines to paste, got %q", paste)
		}
		out, err := exec.Command("bash", "-c", strings.Join(paste, "\n")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"number":"101"`) {
			t.Fatalf("the pasted lines: %v\n%s", err, out)
		}
		if !strings.Contains(text, ". .data/env && bin/portalctl help") {
			t.Fatalf("no portalctl line:\n%s", text)
		}
		// portalctl with the printed line, against this checkout's database.
		pid := regexp.MustCompile(`properties/([0-9a-f-]{36})/units`).FindStringSubmatch(text)
		ctl := exec.Command("bash", "-c", ". .data/env && bin/portalctl unit list --property "+pid[1])
		ctl.Dir = c.dir
		if out, err := ctl.CombinedOutput(); err != nil || !strings.Contains(string(out), `"101"`) {
			t.Fatalf("portalctl after . .data/env: %v\n%s", err, out)
		}
	}
	// make run again in the first checkout: its server runs.
	again := exec.Command("bash", ".ci/demo.sh")
	again.Dir, again.Env = cos[0].dir, env(cos[0])
	out, err := again.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "this checkout's portald is already running") {
		t.Fatalf("a second make run: %v\n%s", err, out)
	}
}

func waitOK(t *testing.T, url string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", url, err)
		}
		<-time.After(100 * time.Millisecond)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	st, err := os.Lstat(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSymlink != 0 {
		target, _ := os.Readlink(from)
		if err := os.Symlink(target, to); err != nil {
			t.Fatal(err)
		}
		return
	}
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(in).WriteTo(out); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

func dropDatabase(admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return
	}
	defer c.Close(ctx)
	_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

//go:build linux

package boltstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Lines of `strace -f -y` output: the thread id, then a call (name and
// arguments, possibly unfinished) or a resumed call; a write to standard
// output of a writer's line; a call's result.
var (
	straceCall    = regexp.MustCompile(`^(\d+) +(\w+)\((.*)$`)
	straceResumed = regexp.MustCompile(`^(\d+) +<\.\.\. (\w+) resumed>(.*)$`)
	straceStdout  = regexp.MustCompile(`^1<[^>]*>, "(go|ok) ([^"]*)\\n"`)
	straceResult  = regexp.MustCompile(`\) += (-?\d+)`)
)

// TestAcksFollowFsync runs the writer process under strace and checks from
// its system calls that no write is acknowledged before the database file
// was synced, and that concurrent writers share syncs. A kill -9 cannot
// show a missing fsync, since the page cache outlives the process.
func TestAcksFollowFsync(t *testing.T) {
	t.Parallel()
	strace, err := exec.LookPath("strace")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("strace is not installed; CI must install it (Debian package strace)")
		}
		t.Skip("strace is not installed (Debian package strace)")
	}
	dir := t.TempDir()
	trace := filepath.Join(t.TempDir(), "trace")
	const writers, ops = 16, 30
	w := writerCmd(dir, writers, ops)
	args := []string{"-f", "-y", "-s", "256", "-qq", "--seccomp-bpf",
		"-e", "trace=fdatasync,fsync,write,pwrite64", "-o", trace, "--"}
	cmd := exec.Command(strace, append(args, w.Args...)...)
	cmd.Env = w.Env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("strace writer: %v\nstdout tail: %s\nstderr: %s", err, tail(out), stderrOf(err))
	}
	var commits int
	for _, line := range strings.Split(string(out), "\n") {
		if _, err := fmt.Sscanf(line, "stats commits=%d", &commits); err == nil {
			break
		}
	}
	if commits == 0 {
		t.Fatalf("writer printed no stats line; stdout tail: %s", tail(out))
	}
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := analyseTrace(bufio.NewScanner(f), filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if want := writers * ops * 4 / 3; r.acks != want {
		t.Errorf("trace shows %d acknowledgements, want %d", r.acks, want)
	}
	for _, v := range r.violations {
		t.Error(v)
	}
	if r.syncs >= r.acks {
		t.Errorf("%d syncs for %d acknowledgements from %d writers: no group commit", r.syncs, r.acks, writers)
	}
	if r.syncs < 2*commits {
		t.Errorf("%d syncs of the database file for %d commits, want at least 2 per commit (pages, then meta page)", r.syncs, commits)
	}
	t.Logf("%d acknowledgements, %d commits, %d syncs of %s", r.acks, commits, r.syncs, FileName)
}

type traceReport struct {
	acks, syncs int
	violations  []string
}

// analyseTrace reads an strace log in order. Every "go" line a writer
// prints before a Commit opens a window, and its "ok" line after the
// acknowledgement closes it; at least two syncs of the database file must
// complete inside the window, since the transaction that holds the write
// begins after "go" and syncs its pages and then its meta page.
func analyseTrace(sc *bufio.Scanner, dbPath string) (traceReport, error) {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var r traceReport
	pending := make(map[string]string) // thread → unfinished call touching the db file
	opened := make(map[string]int)     // "schema id revision" → syncs before its go line
	dbArg := "<" + dbPath + ">"
	completed := func(rest string) {
		if m := straceResult.FindStringSubmatch(rest); m != nil && m[1] == "0" {
			r.syncs++
		}
	}
	for sc.Scan() {
		line := sc.Text()
		if m := straceResumed.FindStringSubmatch(line); m != nil {
			if name, ok := pending[m[1]]; ok && name == m[2] {
				delete(pending, m[1])
				completed(m[3])
			}
			continue
		}
		m := straceCall.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		tid, name, rest := m[1], m[2], m[3]
		switch name {
		case "fdatasync", "fsync":
			if !strings.Contains(rest, dbArg) {
				continue
			}
			if strings.HasSuffix(line, "<unfinished ...>") {
				pending[tid] = name
				continue
			}
			completed(rest)
		case "write":
			w := straceStdout.FindStringSubmatch(rest)
			if w == nil {
				continue
			}
			key := w[2]
			if w[1] == "go" {
				opened[key] = r.syncs
				continue
			}
			r.acks++
			f := strings.Fields(key)
			if len(f) != 4 {
				return r, fmt.Errorf("malformed acknowledgement %q", line)
			}
			goKey := strings.Join(f[:3], " ")
			before, ok := opened[goKey]
			if !ok {
				r.violations = append(r.violations, fmt.Sprintf("acknowledgement %q without a go line before it", key))
				continue
			}
			if n := r.syncs - before; n < 2 {
				r.violations = append(r.violations, fmt.Sprintf("write %s acknowledged after %d syncs of the database file since its commit began, want at least 2", goKey, n))
			}
		}
	}
	return r, sc.Err()
}

func tail(b []byte) string {
	if len(b) > 500 {
		b = b[len(b)-500:]
	}
	return string(b)
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

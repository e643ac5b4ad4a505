//go:build linux

package pebblestore

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
// its system calls that no write is acknowledged before a sync of the
// write-ahead log that began after the write was submitted has completed,
// and that concurrent writers share syncs. A kill -9 cannot show a missing
// fsync, since the page cache outlives the process.
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
	r, err := analyseTrace(bufio.NewScanner(f), filepath.Join(dir, DirName))
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
		t.Errorf("%d log syncs for %d acknowledgements from %d writers: no group commit", r.syncs, r.acks, writers)
	}
	if r.syncs < commits {
		t.Errorf("%d log syncs for %d commits, want at least one per commit", r.syncs, commits)
	}
	t.Logf("%d acknowledgements, %d commits, %d syncs of the write-ahead log", r.acks, commits, r.syncs)
}

type traceReport struct {
	acks, syncs int
	violations  []string
}

// analyseTrace reads an strace log in order. Every "go" line a writer
// prints before a Commit opens a window, and its "ok" line after the
// acknowledgement closes it; a sync of a log file (*.log) in the store's
// directory must begin inside the window and complete before the "ok"
// line, since a sync that began earlier need not cover the write.
func analyseTrace(sc *bufio.Scanner, storeDir string) (traceReport, error) {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var r traceReport
	started := make(map[string]int) // thread → line where its unfinished log sync began
	opened := make(map[string]int)  // "schema id revision" → line of its go line
	// coveredFrom is the latest line at which a sync that has completed
	// began: every write submitted before it is on disk.
	coveredFrom := -1
	walArg := regexp.MustCompile(`^\d+<` + regexp.QuoteMeta(storeDir) + `/[^>/]*\` + walSuffix + `>`)
	completed := func(rest string, begun int) {
		if m := straceResult.FindStringSubmatch(rest); m != nil && m[1] == "0" {
			r.syncs++
			coveredFrom = max(coveredFrom, begun)
		}
	}
	for line := 0; sc.Scan(); line++ {
		text := sc.Text()
		if m := straceResumed.FindStringSubmatch(text); m != nil {
			if begun, ok := started[m[1]]; ok && (m[2] == "fdatasync" || m[2] == "fsync") {
				delete(started, m[1])
				completed(m[3], begun)
			}
			continue
		}
		m := straceCall.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		tid, name, rest := m[1], m[2], m[3]
		switch name {
		case "fdatasync", "fsync":
			if !walArg.MatchString(rest) {
				continue
			}
			if strings.HasSuffix(text, "<unfinished ...>") {
				started[tid] = line
				continue
			}
			completed(rest, line)
		case "write":
			w := straceStdout.FindStringSubmatch(rest)
			if w == nil {
				continue
			}
			key := w[2]
			if w[1] == "go" {
				opened[key] = line
				continue
			}
			r.acks++
			f := strings.Fields(key)
			if len(f) != 4 {
				return r, fmt.Errorf("malformed acknowledgement %q", text)
			}
			goKey := strings.Join(f[:3], " ")
			goLine, ok := opened[goKey]
			if !ok {
				r.violations = append(r.violations, fmt.Sprintf("acknowledgement %q without a go line before it", key))
				continue
			}
			if coveredFrom < goLine {
				r.violations = append(r.violations, fmt.Sprintf("write %s acknowledged with no log sync begun after its go line (line %d) completed", goKey, goLine))
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

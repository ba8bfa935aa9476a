package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// listeningPrefix starts the line serve prints on stderr once it serves.
const listeningPrefix = "pathhook listening on "

// startTimeout bounds how long a server may take to print that line.
const startTimeout = 60 * time.Second

// node is one `pathhook serve` child process, which can be killed and
// started again on the same address and database.
type node struct {
	exe  string
	args []string // after "serve --addr ADDR"
	env  []string

	mu   sync.Mutex
	addr string // 127.0.0.1:0 until the first start, then the one it bound
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	live bool          // cmd is running
	tail *tail
	// spent is the CPU time of the processes that have exited.
	spent time.Duration

	peak atomic.Int64 // the highest VmHWM seen, over every process, bytes
}

// start starts the process and waits until it serves.
func (n *node) start() error {
	n.mu.Lock()
	addr := cmpOr(n.addr, "127.0.0.1:0")
	n.mu.Unlock()
	t := &tail{}
	w := &watcher{tail: t, found: make(chan string, 1)}
	cmd := exec.Command(n.exe, append([]string{"serve", "--addr", addr}, n.args...)...)
	cmd.Env = n.env
	cmd.Stdout, cmd.Stderr = t, w
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.done, n.tail, n.live = cmd, done, t, true
	n.mu.Unlock()
	go func() {
		cmd.Wait()
		n.mu.Lock()
		n.live = false
		n.spent += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		n.mu.Unlock()
		close(done)
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case url := <-w.found:
		n.mu.Lock()
		n.url = url
		n.addr = strings.TrimPrefix(url, "http://")
		n.mu.Unlock()
		return nil
	case <-done:
		return fmt.Errorf("server exited before it served (%s):\n%s", cmd.ProcessState, t.String())
	case <-timer.C:
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("server did not print %q within %s:\n%s", listeningPrefix, startTimeout, t.String())
	}
}

// URL returns the server's base URL, the same across restarts.
func (n *node) URL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.url
}

// current returns the process that runs now, after a last RSS sample,
// and the channel closed when it exits; cmd is nil if none was started.
func (n *node) current() (cmd *exec.Cmd, done chan struct{}) {
	n.sample()
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd, n.done
}

// kill kills the process with SIGKILL and waits for it to be gone.
func (n *node) kill() {
	cmd, done := n.current()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop asks the process to shut down gracefully, and kills it if it has
// not within grace.
func (n *node) stop(grace time.Duration) {
	cmd, done := n.current()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
	}
}

// alive reports whether the current process is running.
func (n *node) alive() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// sample reads the process's peak resident set size and keeps the highest.
func (n *node) sample() {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	if hwm := peakRSS(cmd.Process.Pid); hwm > n.peak.Load() {
		n.peak.Store(hwm)
	}
}

// cpu returns the CPU time, user and system, that the node's processes
// have used: exactly for those that have exited, from /proc for the one
// running.
func (n *node) cpu() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	total := n.spent
	if n.live {
		total += processCPU(n.cmd.Process.Pid)
	}
	return total
}

// logTail returns the last lines the current process printed.
func (n *node) logTail() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.tail == nil {
		return ""
	}
	return n.tail.String()
}

// peakRSS returns VmHWM of process pid in bytes, or 0 if it cannot be read
// (the process is gone, or this is not Linux).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// clockTick is the unit of the times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux platform Go runs on).
const clockTick = 10 * time.Millisecond

// processCPU returns the user and system time of process pid from
// /proc/<pid>/stat, or 0 if it cannot be read.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces; the fields
	// after it start with the state, field 3: utime is 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * clockTick
}

// tailSize is how much of a server's output is kept for error messages.
const tailSize = 16 << 10

// tail keeps the last tailSize bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > tailSize {
		b = b[len(b)-tailSize:]
	}
	return string(b)
}

// watcher passes a server's stderr to a tail and reports the URL of the
// "pathhook listening on" line.
type watcher struct {
	tail    *tail
	found   chan string
	partial []byte
	done    bool
}

func (w *watcher) Write(p []byte) (int, error) {
	w.tail.Write(p)
	if w.done {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), listeningPrefix); ok && rest != "" {
			url, _, _ := strings.Cut(rest, " ") // the URL may be followed by more words
			w.done = true
			w.partial = nil
			w.found <- url
			break
		}
	}
	return len(p), nil
}

// serveFlags returns the flags that `exe serve` accepts, from its -h.
func serveFlags(ctx context.Context, exe string, env []string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, "serve", "-h")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	flags := map[string]bool{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if name, ok := strings.CutPrefix(line, "-"); ok && !strings.HasPrefix(sc.Text(), "    ") {
			name = strings.TrimPrefix(name, "-")
			if f := strings.Fields(name); len(f) > 0 {
				flags[f[0]] = true
			}
		}
	}
	if len(flags) == 0 {
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return nil, fmt.Errorf("%s serve -h: %w", exe, err)
		}
		return nil, fmt.Errorf("%s serve -h listed no flags:\n%s", exe, out.String())
	}
	return flags, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

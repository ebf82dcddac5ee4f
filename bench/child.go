package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childEnv carries a child's specification (JSON) from the harness to the
// child process.
const childEnv = "FIBD_BENCH_CHILD"

// ChildSpec is the specification of a child process. Kinds other than
// the writer may embed it in their own spec.
type ChildSpec struct {
	Kind     string   `json:"kind"` // "writer", or a kind added with RegisterChild
	NSPath   string   `json:"ns_path"`
	Workload Workload `json:"workload"`
	Protocol uint8    `json:"protocol"`
	Hops     [2]Link  `json:"hops"`
	Ack      bool     `json:"ack,omitempty"`
	Groups   bool     `json:"groups,omitempty"`
	Batch    int      `json:"batch,omitempty"` // bytes per sendmsg
}

// childRunners are the kinds of child processes; package fibd's contender
// registers its own with RegisterChild.
var (
	childMu      sync.Mutex
	childRunners = map[string]func(spec json.RawMessage) (ChildHandler, error){
		"writer": newWriterChild,
	}
)

// ChildHandler performs the scenarios of a child process. Prepare does the
// unmeasured work of a scenario, Do the measured work.
type ChildHandler interface {
	Prepare(s Scenario) error
	Do(s Scenario) error
}

// RegisterChild adds a kind of child process. The spec is the JSON that
// StartChild was given.
func RegisterChild(kind string, fn func(spec json.RawMessage) (ChildHandler, error)) {
	childMu.Lock()
	defer childMu.Unlock()

	childRunners[kind] = fn
}

// ChildMain runs the benchmark's child process when the process was
// started as one, and then exits; otherwise it returns at once. Call it
// first in main (and in TestMain of tests that start children).
func ChildMain() {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return
	}

	if err := childLoop(json.RawMessage(raw), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "fibd-bench child: %v\n", err)
		os.Exit(1)
	}

	os.Exit(0)
}

// childLoop reads commands until standard input closes. The reply to
// "prepare SCENARIO" is "ready" (or "error TEXT"), the reply to "go" is
// "done CPU_US PEAK_KB ok|ERROR" with the child's CPU time and peak RSS
// at that moment.
func childLoop(raw json.RawMessage, in io.Reader, out io.Writer) error {
	var head struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("decode child spec: %w", err)
	}

	childMu.Lock()
	newHandler, ok := childRunners[head.Kind]
	childMu.Unlock()
	if !ok {
		return fmt.Errorf("unknown child kind %q", head.Kind)
	}

	h, err := newHandler(raw)
	if err != nil {
		return err
	}

	var current Scenario
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		cmd, arg, _ := strings.Cut(lines.Text(), " ")
		switch cmd {
		case "prepare":
			current = Scenario(arg)
			status := "ready"
			if err := h.Prepare(current); err != nil {
				status = "error " + oneLine(err)
			}

			fmt.Fprintln(out, status)
		case "go":
			status := "ok"
			if err := h.Do(current); err != nil {
				status = oneLine(err)
			}

			u := selfUsage()
			fmt.Fprintf(out, "done %d %d %s\n", u.CPU.Microseconds(), u.PeakRSSKB, status)
		default:
			return fmt.Errorf("unknown command %q", lines.Text())
		}
	}

	return lines.Err()
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// selfUsage returns the child's CPU time and peak RSS. The peak comes
// from VmHWM: ru_maxrss would include the harness's memory, because Go
// starts a child with vfork semantics and execve keeps the largest RSS of
// the replaced address space.
func selfUsage() Usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)

	return Usage{
		CPU:       time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		PeakRSSKB: vmHWM(os.Getpid()),
	}
}

// vmHWM returns a process's peak resident set size in KiB, or 0.
func vmHWM(pid int) int64 {
	kb, err := strconv.ParseInt(strings.TrimSuffix(procField(fmt.Sprintf("/proc/%d/status", pid), "VmHWM"), " kB"), 10, 64)
	if err != nil {
		return 0
	}

	return kb
}

// Child is the harness's handle on a child process inside a namespace.
type Child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Scanner
	stderr strings.Builder
	usage  Usage // as of the last "done"
}

// StartChild starts the benchmark binary as a child process inside
// namespace ns; spec must have a "kind" field that names its handler.
func StartChild(ns string, spec any) (*Child, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode child spec: %w", err)
	}

	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}

	c := &Child{cmd: exec.Command("ip", "netns", "exec", ns, exe)}
	c.cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	c.cmd.Stderr = &c.stderr

	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("open child stdin: %w", err)
	}

	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("open child stdout: %w", err)
	}

	c.stdout = bufio.NewScanner(stdout)
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start child %s: %w", exe, err)
	}

	return c, nil
}

// Run performs one scenario in the child: prepare, mark, go.
func (c *Child) Run(ctx context.Context, s Scenario, mark func()) error {
	reply, err := c.request(ctx, "prepare "+string(s))
	if err != nil {
		return err
	}

	if reply != "ready" {
		return fmt.Errorf("prepare %s in child: %s", s, reply)
	}

	mark()
	reply, err = c.request(ctx, "go")
	if err != nil {
		return err
	}

	fields := strings.SplitN(reply, " ", 4)
	if len(fields) != 4 || fields[0] != "done" {
		return fmt.Errorf("run %s in child: unexpected reply %q", s, reply)
	}

	cpu, _ := strconv.ParseInt(fields[1], 10, 64)
	rss, _ := strconv.ParseInt(fields[2], 10, 64)
	c.usage = Usage{CPU: time.Duration(cpu) * time.Microsecond, PeakRSSKB: rss}
	if fields[3] != "ok" {
		return fmt.Errorf("run %s in child: %s", s, fields[3])
	}

	return nil
}

func (c *Child) request(ctx context.Context, line string) (string, error) {
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		return "", fmt.Errorf("send %q to child: %w (stderr: %s)", line, err, c.stderr.String())
	}

	got := make(chan bool, 1)
	go func() { got <- c.stdout.Scan() }()

	select {
	case ok := <-got:
		if !ok {
			return "", fmt.Errorf("child exited during %q: %s", line, strings.TrimSpace(c.stderr.String()))
		}

		return c.stdout.Text(), nil
	case <-ctx.Done():
		c.Kill()
		<-got
		return "", fmt.Errorf("child %q: %w", line, ctx.Err())
	}
}

// Usage returns the child's usage as of its last completed scenario.
func (c *Child) Usage() Usage {
	return c.usage
}

// Kill ends the child at once (SIGKILL), as a crash would.
func (c *Child) Kill() {
	if c.cmd.Process != nil && c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}

// Close closes the child's standard input, which ends the child, and
// waits for it to exit.
func (c *Child) Close() error {
	if c.cmd.ProcessState != nil {
		return nil
	}

	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()

	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("child exited: %w: %s", err, strings.TrimSpace(c.stderr.String()))
		}

		return err
	case <-time.After(30 * time.Second):
		c.Kill()
		return errors.New("child did not exit within 30s; killed")
	}
}

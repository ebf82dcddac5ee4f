package bench

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// daemon is a long-running contender process inside a namespace, started
// through `ip netns exec` (which execs it, so the pid is the daemon's).
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}

	cpu  time.Duration // of this process as of the last reading
	peak int64
}

// startDaemon starts args inside ns with output to logPath.
func startDaemon(ns, logPath string, args ...string) (*daemon, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", logPath, err)
	}

	d := &daemon{name: args[0], log: log, done: make(chan struct{})}
	d.cmd = exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = log, log
	if err := d.cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s in %s: %w", args[0], ns, err)
	}

	go func() {
		_ = d.cmd.Wait()
		close(d.done)
	}()

	return d, nil
}

// exited reports whether the process has ended.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// sample reads the process's CPU time and peak RSS from /proc while it
// runs, and returns the latest values.
func (d *daemon) sample() (time.Duration, int64) {
	if d.exited() {
		return d.cpu, d.peak
	}

	pid := d.cmd.Process.Pid
	if cpu, ok := procCPU(pid); ok {
		d.cpu = cpu
	}

	d.peak = max(d.peak, vmHWM(pid))

	return d.cpu, d.peak
}

// procCPU returns utime + stime of a process.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}

	// The command name in brackets may contain spaces; fields follow it.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}

	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}

	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}

	return time.Duration(utime+stime) * time.Second / clockTicks, true
}

// stop ends the process: SIGTERM, then SIGKILL after grace.
func (d *daemon) stop(grace time.Duration) {
	if d.exited() {
		d.log.Close()
		return
	}

	d.sample()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(grace):
		_ = d.cmd.Process.Kill()
		<-d.done
	}

	d.log.Close()
}

// kill ends the process at once, as a crash would, after a last reading.
func (d *daemon) kill() {
	if !d.exited() {
		d.sample()
		_ = d.cmd.Process.Kill()
		<-d.done
	}

	d.log.Close()
}

// daemons sums the usage of a contender's processes, including those
// that ended.
type daemons struct {
	list []*daemon
}

func (ds *daemons) add(d *daemon) { ds.list = append(ds.list, d) }

func (ds *daemons) usage() Usage {
	var u Usage
	for _, d := range ds.list {
		cpu, peak := d.sample()
		u.CPU += cpu
		u.PeakRSSKB = max(u.PeakRSSKB, peak)
	}

	return u
}

func (ds *daemons) stop() {
	for _, d := range ds.list {
		d.stop(5 * time.Second)
	}
}

// fileTail returns the last n bytes of a log file, trimmed, for error
// messages. A file that cannot be read gives "".
func fileTail(path string, n int) string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[len(s)-n:]
	}

	return s
}

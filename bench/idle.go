package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Each scenario starts once the machine is idle, so that neither set-up
// nor the end of the previous scenario is measured. fibd's benchmark
// process builds its million routes when it starts, and BIRD stayed busy
// for 5 to 7 s after its 1M restart had ended.
const (
	// idleBusy is the largest share of all CPUs' time, over idleWindow,
	// that counts as idle.
	idleBusy = 0.15

	idleWindow = 200 * time.Millisecond

	// idleLimit bounds the wait. The scenario then starts anyway, and a
	// log line reports it.
	idleLimit = 30 * time.Second
)

// waitIdle waits until the CPUs are idle (see idleBusy), and logs a wait
// that lasted longer than a second or reached idleLimit.
func waitIdle(ctx context.Context, log io.Writer) error {
	start := time.Now()
	prev, err := readCPUTimes()
	if err != nil {
		return err
	}

	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for an idle machine: %w", ctx.Err())
		case <-time.After(idleWindow):
		}

		cur, err := readCPUTimes()
		if err != nil {
			return err
		}

		busy := cur.busySince(prev)
		prev = cur
		waited := time.Since(start)
		switch {
		case busy <= idleBusy:
			if waited > time.Second {
				fmt.Fprintf(log, "  waited %.1fs for an idle machine\n", waited.Seconds())
			}

			return nil
		case waited >= idleLimit:
			fmt.Fprintf(log, "  machine still %.0f%% busy after %s; measuring anyway\n", 100*busy, idleLimit)

			return nil
		}
	}
}

// cpuTimes is the time of all CPUs from the first line of /proc/stat, in
// clock ticks: idle (idle and iowait) and the total.
type cpuTimes struct {
	idle, total uint64
}

func (c cpuTimes) busySince(prev cpuTimes) float64 {
	total := c.total - prev.total
	if total == 0 {
		return 0
	}

	return 1 - float64(c.idle-prev.idle)/float64(total)
}

func readCPUTimes() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read CPU times: %w", err)
	}

	return parseCPUTimes(string(b))
}

// parseCPUTimes reads the "cpu" line of /proc/stat: user, nice, system,
// idle, iowait, irq, softirq, steal and more.
func parseCPUTimes(stat string) (cpuTimes, error) {
	line, _, _ := strings.Cut(stat, "\n")
	fields := strings.Fields(line)
	if len(fields) < 6 || fields[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("parse CPU times: unexpected first line %q of /proc/stat", line)
	}

	var c cpuTimes
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("parse CPU times: field %d %q: %w", i+1, f, err)
		}

		c.total += v
		if i == 3 || i == 4 {
			c.idle += v
		}
	}

	return c, nil
}

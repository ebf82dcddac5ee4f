package bench

import (
	"context"
	"time"
)

// Scenario is one measured step of a run.
type Scenario string

// Scenarios, in the order a run performs them. Recover is not reported: it
// brings the lost next hop back between the two failover measurements.
const (
	Install  Scenario = "install"
	Restart  Scenario = "restart"
	Failover Scenario = "failover"
	Recover  Scenario = "recover"
	Withdraw Scenario = "withdraw"
)

// Contender is one way of programming the routes of a workload into the
// kernel. A contender is used by one goroutine at a time.
type Contender interface {
	// Name is the short name used in flags and tables.
	Name() string

	// Protocol is the kernel protocol number of the contender's routes,
	// which the monitor filters on.
	Protocol() uint8

	// Supports returns "" when the contender can run the scenario on the
	// workload, and otherwise the reason it cannot.
	Supports(w Workload, s Scenario) string

	// Start prepares the contender in env for w: configuration files and
	// processes that hold no routes yet.
	Start(ctx context.Context, env *Env, w Workload) error

	// Run performs a scenario. It calls mark at the moment the measured
	// work begins, after any unmeasured preparation. It returns once the
	// contender has done its part by its own account, and the harness then
	// waits for the kernel. For Restart, Run returns when the restarted
	// contender reports ready.
	Run(ctx context.Context, s Scenario, mark func()) error

	// Usage returns the CPU time used and the peak resident memory of the
	// contender's processes since Start.
	Usage() Usage

	// Stop ends the contender's processes. It is safe to call after a
	// failed Start.
	Stop() error
}

// Synchronous is implemented by contenders whose Run returns only after
// the kernel has applied every change (a netlink request is handled inside
// sendmsg). Their figure is the time Run took; for the others it is the
// time until the monitor saw the final state.
type Synchronous interface {
	Synchronous() bool
}

// Diagnoser is implemented by contenders that can describe their state
// when a scenario fails, for the error message.
type Diagnoser interface {
	Diagnose() string
}

// Describer is implemented by contenders that describe how they are
// driven and which version runs, for the results page.
type Describer interface {
	Describe() string
	Version() string
}

// Usage is the resource use of a contender's processes.
type Usage struct {
	CPU       time.Duration // user + system
	PeakRSSKB int64         // largest VmHWM (or ru_maxrss) of its processes
}

// Sub returns the CPU used between an earlier reading and u, with u's
// peak.
func (u Usage) Sub(earlier Usage) Usage {
	return Usage{CPU: u.CPU - earlier.CPU, PeakRSSKB: u.PeakRSSKB}
}

// Package metrics exports fibd's state to Prometheus.
//
// The collector holds no counters of its own. On each scrape it reads the
// components (the FIB's stats, the kernel's operation counters,
// the monitor's sync status, the BGP peers) through the functions in
// Sources. So a metric is never out of date, and a component needs no
// Prometheus code. The types here are neutral copies of the components'
// status, filled by the daemon, so that this package depends on package
// fib only.
package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fibd/fibd/fib"
)

// Sources are the readers that a Collector calls on each scrape. A nil
// reader leaves its metrics out. Readers must be safe for concurrent use.
type Sources struct {
	// Version is reported as fibd_build_info{version}.
	Version string

	// FIB returns the FIB's counters.
	FIB func() fib.Stats

	// Kernel returns the netlink operation counters.
	Kernel func() KernelStats

	// Sync returns the state of the kernel monitor.
	Sync func() SyncStatus

	// BGP returns the state of the BGP source.
	BGP func() BGPStatus
}

// KernelStats are the kernel dataplane's counters.
type KernelStats struct {
	// Operations counts operations by kind (fib.OpKind names, such as
	// "route-create").
	Operations map[string]uint64

	// Errors counts failed operations by errno name, such as "EEXIST".
	Errors map[string]uint64

	// Batches counts sendmsg calls of requests.
	Batches uint64

	// SocketErrors counts batches that failed because the socket did.
	SocketErrors uint64
}

// SyncStatus is the state of the kernel monitor.
type SyncStatus struct {
	// State is "starting", "in-sync" or "resyncing".
	State string

	Events    uint64 // kernel notifications received
	Overruns  uint64 // times notifications were lost (ENOBUFS)
	Resyncs   uint64 // full dumps handed to the FIB
	Repairs   uint64 // drift corrected
	Conflicts uint64 // keys held by another protocol
}

// SyncStates lists the states that fibd_sync_state reports, so that each
// is exported as 0 or 1 and a dashboard gets every series.
var SyncStates = []string{"starting", "in-sync", "resyncing"}

// BGPStatus is the state of the BGP source.
type BGPStatus struct {
	Peers     []Peer
	Converged bool
}

// Peer is one BGP neighbor.
type Peer struct {
	Address  string
	State    string // the BGP FSM state, such as "established"
	Received uint64 // prefixes received
}

// Collector is a prometheus.Collector over Sources.
type Collector struct {
	src Sources
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector that reads src on each scrape.
func NewCollector(src Sources) *Collector {
	return &Collector{src: src}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("fibd_"+name, help, labels, nil)
}

var (
	descBuildInfo        = desc("build_info", "Build of the running fibd, always 1.", "version")
	descRoutes           = desc("routes", "Keys with a selected route.")
	descRoutesByTable    = desc("routes_by_table", "Keys with a selected route, by table.", "table")
	descRoutesByFamily   = desc("routes_by_family", "Keys with a selected route, by address family.", "family")
	descConflictRoutes   = desc("routes_conflicts", "Keys held by a route of another protocol.")
	descSourceCandidates = desc("source_candidates", "Candidate routes offered by each source, selected or not.", "source")
	descInstalled        = desc("routes_installed", "Routes installed in the kernel.")
	descFailed           = desc("routes_failed", "Selected routes whose last kernel operation failed.")
	descUnresolved       = desc("routes_unresolved", "Selected routes without a live next hop.")
	descNexthops         = desc("nexthop_objects", "Kernel nexthop objects of single next hops that fibd holds.")
	descGroups           = desc("nexthop_groups", "Kernel nexthop groups that fibd holds.")
	descFIBOps           = desc("fib_operations_total", "Dataplane operations that the FIB issued.")
	descFIBOpErrors      = desc("fib_operation_errors_total", "Dataplane operations that failed.")
	descPending          = desc("fib_pending_operations", "Changes waiting to be programmed.")
	descKernelOps        = desc("kernel_operations_total", "Netlink operations by kind.", "op")
	descKernelErrors     = desc("kernel_errors_total", "Failed netlink operations by errno.", "errno")
	descApply            = desc("kernel_apply_duration_seconds", "Time of each batch of operations that the FIB handed to the kernel.")
	descSendBatches      = desc("kernel_sendmsg_batches_total", "sendmsg calls of netlink requests.")
	descSocketErrors     = desc("kernel_socket_errors_total", "Batches that failed because the netlink socket did.")
	descSyncState        = desc("sync_state", "State of the kernel monitor: 1 for the current state.", "state")
	descSyncEvents       = desc("sync_events_total", "Kernel notifications the monitor received.")
	descOverruns         = desc("sync_overruns_total", "Times kernel notifications were lost, such as on ENOBUFS.")
	descResyncs          = desc("sync_resyncs_total", "Full dumps of the kernel handed to the FIB.")
	descRepairs          = desc("sync_repairs_total", "Differences between kernel and FIB that were repaired.")
	descConflicts        = desc("sync_conflicts_total", "Keys found held by another protocol.")
	descPeers            = desc("bgp_peers", "BGP neighbors by FSM state.", "state")
	descPeerReceived     = desc("bgp_peer_prefixes_received", "Prefixes received from each BGP neighbor.", "peer")
	descBGPConverged     = desc("bgp_converged", "1 once the BGP source has declared convergence.")
)

// Describe sends every descriptor the collector can export.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descBuildInfo, descRoutes, descRoutesByTable, descRoutesByFamily, descConflictRoutes, descSourceCandidates, descInstalled, descFailed,
		descUnresolved, descNexthops, descGroups, descFIBOps, descFIBOpErrors, descPending,
		descKernelOps, descKernelErrors, descApply, descSendBatches, descSocketErrors, descSyncState, descSyncEvents,
		descOverruns, descResyncs, descRepairs, descConflicts, descPeers, descPeerReceived, descBGPConverged,
	} {
		ch <- d
	}
}

// Collect reads the sources and sends their metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descBuildInfo, prometheus.GaugeValue, 1, c.src.Version)

	if c.src.FIB != nil {
		collectFIB(ch, c.src.FIB())
	}

	if c.src.Kernel != nil {
		collectKernel(ch, c.src.Kernel())
	}

	if c.src.Sync != nil {
		collectSync(ch, c.src.Sync())
	}

	if c.src.BGP != nil {
		collectBGP(ch, c.src.BGP())
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

// histogram sends h as a Prometheus histogram in seconds, whose buckets
// are cumulative.
func histogram(ch chan<- prometheus.Metric, d *prometheus.Desc, h fib.Histogram) {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cumulative uint64
	for i, bound := range h.Bounds {
		cumulative += h.Counts[i]
		buckets[bound.Seconds()] = cumulative
	}

	ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum.Seconds(), buckets)
}

func collectFIB(ch chan<- prometheus.Metric, s fib.Stats) {
	gauge(ch, descRoutes, float64(s.Routes))
	gauge(ch, descConflictRoutes, float64(s.Conflicts))
	gauge(ch, descInstalled, float64(s.Installed))
	gauge(ch, descFailed, float64(s.Failed))
	gauge(ch, descUnresolved, float64(s.Unresolved))
	gauge(ch, descNexthops, float64(s.Nexthops))
	gauge(ch, descGroups, float64(s.Groups))
	gauge(ch, descPending, float64(s.Pending))
	counter(ch, descFIBOps, s.Ops)
	counter(ch, descFIBOpErrors, s.OpErrors)
	histogram(ch, descApply, s.ApplyDuration)

	for source, n := range s.SourcesRoutes {
		gauge(ch, descSourceCandidates, float64(n), source)
	}

	for table, n := range s.TablesRoutes {
		gauge(ch, descRoutesByTable, float64(n), strconv.FormatUint(uint64(table), 10))
	}

	for family, n := range s.FamiliesRoutes {
		gauge(ch, descRoutesByFamily, float64(n), family.String())
	}
}

func collectKernel(ch chan<- prometheus.Metric, s KernelStats) {
	for op, n := range s.Operations {
		counter(ch, descKernelOps, n, op)
	}

	for errno, n := range s.Errors {
		counter(ch, descKernelErrors, n, errno)
	}

	counter(ch, descSendBatches, s.Batches)
	counter(ch, descSocketErrors, s.SocketErrors)
}

func collectSync(ch chan<- prometheus.Metric, s SyncStatus) {
	for _, state := range SyncStates {
		v := 0.0
		if state == s.State {
			v = 1
		}
		gauge(ch, descSyncState, v, state)
	}

	counter(ch, descSyncEvents, s.Events)
	counter(ch, descOverruns, s.Overruns)
	counter(ch, descResyncs, s.Resyncs)
	counter(ch, descRepairs, s.Repairs)
	counter(ch, descConflicts, s.Conflicts)
}

func collectBGP(ch chan<- prometheus.Metric, s BGPStatus) {
	states := map[string]int{}
	for _, p := range s.Peers {
		states[p.State]++
		gauge(ch, descPeerReceived, float64(p.Received), p.Address)
	}

	for state, n := range states {
		gauge(ch, descPeers, float64(n), state)
	}

	converged := 0.0
	if s.Converged {
		converged = 1
	}
	gauge(ch, descBGPConverged, converged)
}

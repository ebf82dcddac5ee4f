package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

func fakeSources() Sources {
	return Sources{
		Version: "v0.1.0-test",
		FIB: func() fib.Stats {
			return fib.Stats{
				Routes: 3, Installed: 3, Failed: 1, Unresolved: 2, Nexthops: 4, Groups: 1,
				Ops: 40, OpErrors: 2, Pending: 5, Conflicts: 1,
				SourcesRoutes:  map[string]int{"bgp": 2, "ops": 2},
				TablesRoutes:   map[uint32]int{254: 2, 100: 1},
				FamiliesRoutes: map[nexthop.Family]int{nexthop.FamilyIPv4: 2, nexthop.FamilyIPv6: 1},
				ApplyDuration: fib.Histogram{
					Bounds: []time.Duration{time.Millisecond, 10 * time.Millisecond},
					Counts: []uint64{2, 0, 1},
					Count:  3,
					Sum:    12 * time.Millisecond,
				},
			}
		},
		Kernel: func() KernelStats {
			return KernelStats{
				Operations:   map[string]uint64{"route-create": 30, "nexthop-create": 10},
				Errors:       map[string]uint64{"EEXIST": 2},
				Batches:      7,
				SocketErrors: 1,
			}
		},
		Sync: func() SyncStatus {
			return SyncStatus{State: "in-sync", Events: 100, Overruns: 4, Resyncs: 1, Repairs: 2, Conflicts: 3}
		},
		BGP: func() BGPStatus {
			return BGPStatus{
				Converged: true,
				Peers: []Peer{
					{Address: "192.0.2.1", State: "established", Received: 800},
					{Address: "2001:db8::1", State: "established", Received: 200},
					{Address: "198.51.100.1", State: "active"},
				},
			}
		},
	}
}

func scrape(t *testing.T, src Sources) string {
	t.Helper()

	handler := promhttp.HandlerFor(NewRegistry(src), promhttp.HandlerOpts{})
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))

	if rec.Code != http.StatusOK {
		t.Fatalf("scrape returned %d: %s", rec.Code, rec.Body)
	}

	return rec.Body.String()
}

func TestCollectorSeries(t *testing.T) {
	body := scrape(t, fakeSources())

	want := []string{
		`fibd_build_info{version="v0.1.0-test"} 1`,
		`fibd_routes 3`,
		`fibd_routes_by_table{table="254"} 2`,
		`fibd_routes_by_table{table="100"} 1`,
		`fibd_routes_by_family{family="inet"} 2`,
		`fibd_routes_by_family{family="inet6"} 1`,
		`fibd_routes_conflicts 1`,
		`fibd_source_candidates{source="ops"} 2`,
		`fibd_routes_installed 3`,
		`fibd_routes_failed 1`,
		`fibd_routes_unresolved 2`,
		`fibd_nexthop_objects 4`,
		`fibd_nexthop_groups 1`,
		`fibd_fib_operations_total 40`,
		`fibd_fib_operation_errors_total 2`,
		`fibd_fib_pending_operations 5`,
		`fibd_kernel_operations_total{op="route-create"} 30`,
		`fibd_kernel_errors_total{errno="EEXIST"} 2`,
		`fibd_kernel_apply_duration_seconds_bucket{le="0.001"} 2`,
		`fibd_kernel_apply_duration_seconds_bucket{le="0.01"} 2`,
		`fibd_kernel_apply_duration_seconds_bucket{le="+Inf"} 3`,
		`fibd_kernel_apply_duration_seconds_sum 0.012`,
		`fibd_kernel_apply_duration_seconds_count 3`,
		`fibd_kernel_sendmsg_batches_total 7`,
		`fibd_kernel_socket_errors_total 1`,
		`fibd_sync_state{state="in-sync"} 1`,
		`fibd_sync_state{state="resyncing"} 0`,
		`fibd_sync_events_total 100`,
		`fibd_sync_overruns_total 4`,
		`fibd_sync_resyncs_total 1`,
		`fibd_sync_repairs_total 2`,
		`fibd_sync_conflicts_total 3`,
		`fibd_bgp_peers{state="established"} 2`,
		`fibd_bgp_peers{state="active"} 1`,
		`fibd_bgp_peer_prefixes_received{peer="192.0.2.1"} 800`,
		`fibd_bgp_converged 1`,
		`go_goroutines `,
	}
	for _, line := range want {
		if !strings.Contains(body, "\n"+line) {
			t.Errorf("scrape lacks %s", line)
		}
	}
}

func TestCollectorNilSources(t *testing.T) {
	body := scrape(t, Sources{Version: "v"})

	if !strings.Contains(body, `fibd_build_info{version="v"} 1`) {
		t.Errorf("scrape lacks build info:\n%s", body)
	}

	for _, absent := range []string{"fibd_routes", "fibd_kernel_", "fibd_sync_", "fibd_bgp_"} {
		if strings.Contains(body, "\n"+absent) {
			t.Errorf("scrape has %s without a source", absent)
		}
	}
}

func TestServerPprofLoopback(t *testing.T) {
	srv, err := Listen(ServerConfig{Address: "127.0.0.1:0", Pprof: true, Gatherer: NewRegistry(Sources{})})
	if err != nil {
		t.Fatalf("Listen on loopback with pprof: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	base := "http://" + srv.Addr().String()
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()

		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestServerNoPprof(t *testing.T) {
	srv, err := Listen(ServerConfig{Address: "127.0.0.1:0", Gatherer: NewRegistry(Sources{})})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.listener.Close()

	rec := httptest.NewRecorder()
	srv.http.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("pprof served with Pprof off: %d", rec.Code)
	}
}

func TestServerPprofRejected(t *testing.T) {
	_, err := Listen(ServerConfig{Address: "0.0.0.0:0", Pprof: true, Gatherer: NewRegistry(Sources{})})
	if err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Errorf("Listen on 0.0.0.0 with pprof = %v, want a rejection", err)
	}
}

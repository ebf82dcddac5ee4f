package server

import (
	"context"
	"sort"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib"
)

// Status returns counters and the state of fibd's components.
func (s *Server) Status(_ context.Context, _ *fibdv1.StatusRequest) (*fibdv1.StatusResponse, error) {
	st := s.fib.Stats()
	resp := &fibdv1.StatusResponse{
		Version:      s.cfg.Version,
		Started:      timestamppb.New(s.started),
		Uptime:       durationpb.New(time.Since(s.started).Truncate(time.Second)),
		Routes:       uint64(st.Routes),
		Installed:    uint64(st.Installed),
		Failed:       uint64(st.Failed),
		Unresolved:   uint64(st.Unresolved),
		Pending:      uint64(st.Pending),
		Nexthops:     uint64(st.Nexthops),
		Groups:       uint64(st.Groups),
		Ops:          st.Ops,
		OpErrors:     st.OpErrors,
		BySource:     counts(st.SourcesRoutes),
		RecentErrors: st.LastErrors,
		Sessions:     s.sessions.list(),
	}

	resp.ByTable, resp.ByFamily = s.selectedCounts()

	if s.cfg.SyncState != nil {
		resp.KernelSync = s.cfg.SyncState()
	}

	if s.cfg.Extra != nil {
		resp.Extra = s.cfg.Extra()
	}

	return resp, nil
}

// selectedCounts counts the keys with a selected candidate by table and
// by family.
func (s *Server) selectedCounts() (byTable, byFamily []*fibdv1.Count) {
	tables := make(map[string]int)
	families := make(map[string]int)

	s.fib.Routes(fib.Filter{}, func(rs fib.RouteState) bool {
		if len(rs.Candidates) > 0 {
			tables[strconv.FormatUint(uint64(rs.Key.Table), 10)]++
			families[familyOf(rs.Key.Prefix).String()]++
		}

		return true
	})

	return counts(tables), counts(families)
}

// counts converts a map of counts, sorted by name; numeric names sort by
// value.
func counts(m map[string]int) []*fibdv1.Count {
	out := make([]*fibdv1.Count, 0, len(m))
	for name, n := range m {
		out = append(out, &fibdv1.Count{Name: name, Routes: uint64(n)})
	}

	sort.Slice(out, func(i, j int) bool {
		a, errA := strconv.ParseUint(out[i].Name, 10, 64)
		b, errB := strconv.ParseUint(out[j].Name, 10, 64)
		if errA == nil && errB == nil {
			return a < b
		}

		return out[i].Name < out[j].Name
	})

	return out
}

// Verify compares the desired state with the kernel.
func (s *Server) Verify(ctx context.Context, _ *fibdv1.VerifyRequest) (*fibdv1.VerifyResponse, error) {
	if s.cfg.Verify == nil {
		return nil, status.Error(codes.Unimplemented, "verify is not available: fibd runs without a kernel monitor")
	}

	diffs, err := s.cfg.Verify(ctx)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, status.FromContextError(ctxErr).Err()
		}

		return nil, status.Errorf(codes.Unavailable, "verify: %v", err)
	}

	return &fibdv1.VerifyResponse{InSync: len(diffs) == 0, Differences: diffs}, nil
}

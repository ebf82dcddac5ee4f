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
		Adopted:      uint64(st.Adopted),
		Failed:       uint64(st.Failed),
		Unresolved:   uint64(st.Unresolved),
		Pending:      uint64(st.Pending),
		Nexthops:     uint64(st.Nexthops),
		Groups:       uint64(st.Groups),
		Ops:          st.Ops,
		OpErrors:     st.OpErrors,
		Conflicts:    uint64(st.Conflicts),
		BySource:     counts(st.SourcesRoutes),
		RecentErrors: st.LastErrors,
		Sessions:     s.sessions.list(),
	}

	for table, n := range st.TablesRoutes {
		resp.ByTable = append(resp.ByTable, &fibdv1.Count{Name: strconv.FormatUint(uint64(table), 10), Routes: uint64(n)})
	}

	for family, n := range st.FamiliesRoutes {
		resp.ByFamily = append(resp.ByFamily, &fibdv1.Count{Name: family.String(), Routes: uint64(n)})
	}

	sortCounts(resp.ByTable)
	sortCounts(resp.ByFamily)

	if s.cfg.SyncState != nil {
		resp.KernelSync = s.cfg.SyncState()
	}

	if s.cfg.Extra != nil {
		resp.Extra = s.cfg.Extra()
	}

	return resp, nil
}

// counts converts a map of counts, sorted by name.
func counts(m map[string]int) []*fibdv1.Count {
	out := make([]*fibdv1.Count, 0, len(m))
	for name, n := range m {
		out = append(out, &fibdv1.Count{Name: name, Routes: uint64(n)})
	}

	sortCounts(out)

	return out
}

// sortCounts sorts counts by name, and numeric names (tables) by value.
func sortCounts(out []*fibdv1.Count) {
	sort.Slice(out, func(i, j int) bool {
		a, errA := strconv.ParseUint(out[i].Name, 10, 64)
		b, errB := strconv.ParseUint(out[j].Name, 10, 64)
		if errA == nil && errB == nil {
			return a < b
		}

		return out[i].Name < out[j].Name
	})
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

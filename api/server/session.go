package server

import (
	"errors"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib"
)

// Session runs one source's session until the client ends the stream.
func (s *Server) Session(stream fibdv1.Fib_SessionServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}

	open := first.GetOpen()
	if open == nil {
		return status.Error(codes.InvalidArgument, "open: the first message of a session must be open, naming the source")
	}

	var v violations
	s.checkSource(&v, open.GetSource())
	if err := v.err(); err != nil {
		return err
	}

	sess, resumed, err := s.sessions.open(open.GetSource(), open.GetBind())
	if err != nil {
		return err
	}
	defer s.sessions.close(sess)

	state := &sessionState{source: sess.source, stale: s.sourceKeys(sess.source), sent: newKeyList()}
	err = stream.Send(&fibdv1.SessionResponse{Response: &fibdv1.SessionResponse_Opened{Opened: &fibdv1.SessionOpened{
		Resumed:     resumed,
		Routes:      uint64(len(state.stale)),
		GracePeriod: durationpb.New(s.cfg.GracePeriod),
	}}})
	if err != nil {
		return err
	}

	return s.serveSession(stream, state)
}

// sessionState records the keys of one session for the sweep at end of
// table.
type sessionState struct {
	source string

	// stale holds the source's keys when the session opened; sent holds
	// the keys the session added since.
	stale []fib.Key
	sent  *keyList
}

// serveSession handles a session's messages after open.
func (s *Server) serveSession(stream fibdv1.Fib_SessionServer, state *sessionState) error {
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}

		if err != nil {
			return err
		}

		var resp *fibdv1.SessionResponse
		switch m := msg.GetRequest().(type) {
		case *fibdv1.SessionRequest_Update:
			resp, err = s.sessionUpdate(stream, state, m.Update)
		case *fibdv1.SessionRequest_EndOfTable:
			resp = s.endOfTable(state)
		case *fibdv1.SessionRequest_Open:
			return status.Error(codes.InvalidArgument, "open: the session is already open; send open only once")
		default:
			return status.Error(codes.InvalidArgument, "request: empty session message; send update or end_of_table")
		}

		if err != nil {
			return err
		}

		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// sessionUpdate validates and applies one batch of a session. A batch
// that fails validation gets its status in the response and changes
// nothing, and the session goes on.
func (s *Server) sessionUpdate(stream fibdv1.Fib_SessionServer, state *sessionState, u *fibdv1.SessionUpdate) (*fibdv1.SessionResponse, error) {
	result := &fibdv1.SessionUpdateResult{Id: u.GetId()}
	resp := &fibdv1.SessionResponse{Response: &fibdv1.SessionResponse_Update{Update: result}}

	var v violations
	s.checkBatch(&v, "update.add", len(u.GetAdd()))
	s.checkBatch(&v, "update.delete", len(u.GetDelete()))

	var (
		routes []fib.Route
		keys   []fib.Key
	)
	if v.empty() {
		routes = s.parseRoutes(&v, state.source, "update.add", u.GetAdd())
		keys = parseKeys(&v, "update.delete", u.GetDelete())
	}

	if v.empty() {
		// A session lives for hours, so each update resolves afresh.
		s.newResolver().check(stream.Context(), &v, "update.add", routes)
	}

	if err := stream.Context().Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}

	if !v.empty() {
		result.Code = uint32(codes.InvalidArgument)
		result.Message = v.message()

		return resp, nil
	}

	errs := s.fib.Update(routes)
	s.fib.Withdraw(state.source, keys)
	for i, r := range routes {
		if i >= len(errs) || errs[i] == nil {
			state.sent.add(r.Key())
		}
	}

	for _, k := range keys {
		state.sent.remove(k)
	}

	if err := s.sync(stream.Context()); err != nil {
		return nil, err
	}

	result.Results = append(s.addResults(state.source, routes, errs), s.deleteResults(keys)...)

	return resp, nil
}

// endOfTable withdraws the source's keys from before the session that the
// session did not send, and declares the source converged.
func (s *Server) endOfTable(state *sessionState) *fibdv1.SessionResponse {
	var leftovers []fib.Key
	for _, k := range state.stale {
		if !state.sent.has(k) {
			leftovers = append(leftovers, k)
		}
	}

	state.stale = nil
	s.fib.Withdraw(state.source, leftovers)
	s.fib.Converged(state.source)
	s.cfg.Logger.Info("end of table", "source", state.source, "withdrawn", len(leftovers))

	return &fibdv1.SessionResponse{Response: &fibdv1.SessionResponse_EndOfTable{
		EndOfTable: &fibdv1.EndOfTableDone{Withdrawn: uint64(len(leftovers))},
	}}
}

// sourceKeys returns the keys where source has a candidate.
func (s *Server) sourceKeys(source string) []fib.Key {
	var keys []fib.Key
	s.fib.Routes(fib.Filter{Source: source}, func(rs fib.RouteState) bool {
		for _, c := range rs.Candidates {
			if c.Source == source {
				keys = append(keys, rs.Key)

				break
			}
		}

		return true
	})

	return keys
}

// sessions tracks the open sessions and the bound sources in their grace
// period. Its methods are safe for concurrent use.
type sessions struct {
	fib   backend
	grace time.Duration
	log   *slog.Logger

	mu       sync.Mutex
	bySource map[string]*session
	stopped  bool // no grace timers start after stop
}

// session is one source's entry: open, or ended and waiting out the grace
// period (timer set).
type session struct {
	source  string
	bound   bool
	open    bool
	timer   *time.Timer
	expires time.Time
}

func newSessions(b backend, grace time.Duration, log *slog.Logger) *sessions {
	return &sessions{fib: b, grace: grace, log: log, bySource: make(map[string]*session)}
}

// open starts a session for source. It reports whether it resumed a bound
// session in its grace period; a source with an open session is rejected.
func (ss *sessions) open(source string, bind bool) (*session, bool, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()

	old := ss.bySource[source]
	if old != nil && old.open {
		return nil, false, status.Errorf(codes.AlreadyExists, "source %q already has an open session; end it first or use another source name", source)
	}

	resumed := false
	if old != nil && old.timer != nil {
		old.timer.Stop()
		resumed = true
	}

	sess := &session{source: source, bound: bind, open: true}
	ss.bySource[source] = sess
	ss.log.Info("session opened", "source", source, "bound", bind, "resumed", resumed)

	return sess, resumed, nil
}

// close ends a session. A bound session's routes are withdrawn after the
// grace period unless the source opens a new session first.
func (ss *sessions) close(sess *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()

	sess.open = false
	if !sess.bound || ss.stopped {
		delete(ss.bySource, sess.source)
		ss.log.Info("session ended", "source", sess.source, "bound", sess.bound)

		return
	}

	ss.log.Info("session ended, routes kept for the grace period", "source", sess.source, "bound", true, "grace_period", ss.grace)
	sess.expires = time.Now().Add(ss.grace)
	sess.timer = time.AfterFunc(ss.grace, func() { ss.expire(sess) })
}

// expire withdraws the routes of a bound source whose grace period ended.
// It holds the lock while withdrawing, so that a session opening at the
// same moment finds either all of the routes or none of them.
func (ss *sessions) expire(sess *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()

	if ss.bySource[sess.source] != sess || sess.open {
		return
	}

	delete(ss.bySource, sess.source)
	n := ss.fib.WithdrawSource(sess.source)
	ss.log.Info("grace period ended, routes withdrawn", "source", sess.source, "routes", n)
}

// stop stops every grace timer and keeps the routes, also of the sessions
// that end after it.
func (ss *sessions) stop() {
	ss.mu.Lock()
	defer ss.mu.Unlock()

	ss.stopped = true

	for source, sess := range ss.bySource {
		if sess.timer != nil {
			sess.timer.Stop()
			delete(ss.bySource, source)
		}
	}
}

// list describes the sessions for Status, sorted by source.
func (ss *sessions) list() []*fibdv1.SessionInfo {
	ss.mu.Lock()
	defer ss.mu.Unlock()

	out := make([]*fibdv1.SessionInfo, 0, len(ss.bySource))
	for _, sess := range ss.bySource {
		info := &fibdv1.SessionInfo{Source: sess.source, Bound: sess.bound, Open: sess.open}
		if !sess.open {
			info.Expires = timestamppb.New(sess.expires)
		}

		out = append(out, info)
	}

	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })

	return out
}

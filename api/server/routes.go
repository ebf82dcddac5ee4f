package server

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib"
)

// maxStreamErrors bounds the errors a StreamRoutes response lists.
const maxStreamErrors = 100

// AddRoutes offers a batch of routes and returns a result per route.
func (s *Server) AddRoutes(ctx context.Context, req *fibdv1.AddRoutesRequest) (*fibdv1.AddRoutesResponse, error) {
	var v violations
	s.checkSource(&v, req.GetSource())
	s.checkBatch(&v, "routes", len(req.GetRoutes()))
	if !v.empty() {
		return nil, v.err()
	}

	routes := s.parseRoutes(&v, req.GetSource(), "routes", req.GetRoutes())
	if v.empty() {
		s.newResolver().check(ctx, &v, "routes", routes)
	}

	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}

	if err := v.err(); err != nil {
		return nil, err
	}

	errs := s.fib.Update(routes)
	if err := s.sync(ctx); err != nil {
		return nil, err
	}

	return &fibdv1.AddRoutesResponse{Results: s.addResults(req.GetSource(), routes, errs)}, nil
}

// DeleteRoutes withdraws a batch of keys and returns a result per key.
func (s *Server) DeleteRoutes(ctx context.Context, req *fibdv1.DeleteRoutesRequest) (*fibdv1.DeleteRoutesResponse, error) {
	var v violations
	s.checkSource(&v, req.GetSource())
	s.checkBatch(&v, "keys", len(req.GetKeys()))
	if !v.empty() {
		return nil, v.err()
	}

	keys := parseKeys(&v, "keys", req.GetKeys())
	if err := v.err(); err != nil {
		return nil, err
	}

	s.fib.Withdraw(req.GetSource(), keys)
	if err := s.sync(ctx); err != nil {
		return nil, err
	}

	return &fibdv1.DeleteRoutesResponse{Results: s.deleteResults(keys)}, nil
}

// sync waits until the FIB has tried to program the changes offered so
// far. A failure becomes a status whose message states that the changes
// were accepted.
func (s *Server) sync(ctx context.Context) error {
	err := s.fib.Sync(ctx)
	if err == nil {
		return nil
	}

	if ctxErr := ctx.Err(); ctxErr != nil {
		return status.FromContextError(ctxErr).Err()
	}

	return status.Errorf(codes.Unavailable, "wait for programming: %v; the request was accepted and fibd keeps trying", err)
}

// addResults returns the result of each offered route after a sync. errs
// is the result of fib.Update for routes.
func (s *Server) addResults(source string, routes []fib.Route, errs []error) []*fibdv1.RouteResult {
	results := make([]*fibdv1.RouteResult, len(routes))
	for i, r := range routes {
		var err error
		if i < len(errs) {
			err = errs[i]
		}

		results[i] = s.addResult(source, r.Key(), err)
	}

	return results
}

// addResult returns the outcome of one offered route: rejected by the FIB,
// or the state of its key when the source's candidate is selected.
func (s *Server) addResult(source string, key fib.Key, updateErr error) *fibdv1.RouteResult {
	res := &fibdv1.RouteResult{Prefix: key.Prefix.String(), Table: key.Table, Code: fibdv1.ResultCode_RESULT_CODE_OK}
	if updateErr != nil {
		res.Code = fibdv1.ResultCode_RESULT_CODE_REJECTED
		res.Message = updateErr.Error()

		return res
	}

	state, ok := s.fib.Lookup(key)
	if !ok || len(state.Candidates) == 0 || state.Candidates[0].Source != source {
		return res
	}

	// An unresolved key also carries the error that explains it, so the
	// unresolved state is checked first.
	res.Selected = true
	switch {
	case state.Unresolved:
		res.Code = fibdv1.ResultCode_RESULT_CODE_UNRESOLVED
		res.Message = fmt.Sprintf("route %s has no usable next hop now; fibd installs it when one comes back", key)
	case state.Err != nil:
		res.Code = fibdv1.ResultCode_RESULT_CODE_KERNEL_ERROR
		res.Message = state.Err.Error()
	}

	return res
}

// deleteResults returns the result of each withdrawn key after a sync: a
// kernel error only when nothing else wants the key and fibd's route
// could not be deleted.
func (s *Server) deleteResults(keys []fib.Key) []*fibdv1.RouteResult {
	results := make([]*fibdv1.RouteResult, len(keys))
	for i, key := range keys {
		res := &fibdv1.RouteResult{Prefix: key.Prefix.String(), Table: key.Table, Code: fibdv1.ResultCode_RESULT_CODE_OK}

		state, ok := s.fib.Lookup(key)
		if ok && len(state.Candidates) == 0 && state.Installed != nil && state.Err != nil {
			res.Code = fibdv1.ResultCode_RESULT_CODE_KERNEL_ERROR
			res.Message = state.Err.Error()
		}

		results[i] = res
	}

	return results
}

// StreamRoutes applies a client stream of batches and returns counts.
func (s *Server) StreamRoutes(stream fibdv1.Fib_StreamRoutesServer) error {
	var (
		source string
		resp   fibdv1.StreamRoutesResponse
		added  = newKeyList()
		hops   = s.newResolver()
	)

	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}

		if err != nil {
			return err
		}

		if source == "" {
			var v violations
			s.checkSource(&v, msg.GetSource())
			if err := v.err(); err != nil {
				return err
			}

			source = msg.GetSource()
		}

		s.streamMessage(stream.Context(), hops, source, msg, &resp, added)
	}

	if err := s.sync(stream.Context()); err != nil {
		return err
	}

	s.countStreamed(source, added, &resp)

	return stream.SendAndClose(&resp)
}

// streamMessage validates and applies one message of StreamRoutes. A
// message that fails validation, including next-hop resolution by hops,
// changes nothing.
func (s *Server) streamMessage(ctx context.Context, hops *resolver, source string, msg *fibdv1.StreamRoutesRequest, resp *fibdv1.StreamRoutesResponse, added *keyList) {
	resp.Messages++
	index := resp.Messages - 1

	var v violations
	if msg.GetSource() != "" && msg.GetSource() != source {
		v.add("source", "source %q differs from the stream's source %q; leave it empty or repeat the same name", msg.GetSource(), source)
	}

	s.checkBatch(&v, "add", len(msg.GetAdd()))
	s.checkBatch(&v, "delete", len(msg.GetDelete()))

	var (
		routes []fib.Route
		keys   []fib.Key
	)
	if v.empty() {
		routes = s.parseRoutes(&v, source, "add", msg.GetAdd())
		keys = parseKeys(&v, "delete", msg.GetDelete())
	}

	if v.empty() {
		hops.check(ctx, &v, "add", routes)
	}

	if !v.empty() {
		resp.RejectedMessages++
		addStreamError(resp, &fibdv1.RouteError{
			Code:    fibdv1.ResultCode_RESULT_CODE_REJECTED,
			Message: fmt.Sprintf("message %d: %s", index, v.message()),
		})

		return
	}

	errs := s.fib.Update(routes)
	for i, r := range routes {
		if i < len(errs) && errs[i] != nil {
			resp.Rejected++
			addStreamError(resp, routeError(r.Key(), fibdv1.ResultCode_RESULT_CODE_REJECTED, errs[i].Error()))

			continue
		}

		resp.Added++
		added.add(r.Key())
	}

	s.fib.Withdraw(source, keys)
	resp.Deleted += uint64(len(keys))
	for _, k := range keys {
		added.remove(k)
	}
}

// countStreamed counts the kernel outcome of the stream's routes after a
// sync.
func (s *Server) countStreamed(source string, added *keyList, resp *fibdv1.StreamRoutesResponse) {
	for _, key := range added.keys() {
		res := s.addResult(source, key, nil)
		switch res.Code {
		case fibdv1.ResultCode_RESULT_CODE_KERNEL_ERROR:
			resp.Failed++
		case fibdv1.ResultCode_RESULT_CODE_UNRESOLVED:
			resp.Unresolved++
		default:
			continue
		}

		addStreamError(resp, routeError(key, res.Code, res.Message))
	}
}

func routeError(key fib.Key, code fibdv1.ResultCode, msg string) *fibdv1.RouteError {
	return &fibdv1.RouteError{Prefix: key.Prefix.String(), Table: key.Table, Code: code, Message: msg}
}

func addStreamError(resp *fibdv1.StreamRoutesResponse, e *fibdv1.RouteError) {
	if len(resp.Errors) < maxStreamErrors {
		resp.Errors = append(resp.Errors, e)
	}
}

// keyList is an ordered set of keys.
type keyList struct {
	index   map[fib.Key]int
	list    []fib.Key
	removed int
}

func newKeyList() *keyList {
	return &keyList{index: make(map[fib.Key]int)}
}

func (l *keyList) add(k fib.Key) {
	if _, ok := l.index[k]; ok {
		return
	}

	l.index[k] = len(l.list)
	l.list = append(l.list, k)
}

func (l *keyList) remove(k fib.Key) {
	i, ok := l.index[k]
	if !ok {
		return
	}

	delete(l.index, k)
	l.list[i] = fib.Key{}
	l.removed++
}

func (l *keyList) has(k fib.Key) bool {
	_, ok := l.index[k]

	return ok
}

// keys returns the keys in the order they were first added.
func (l *keyList) keys() []fib.Key {
	out := make([]fib.Key, 0, len(l.list)-l.removed)
	for _, k := range l.list {
		if k.Prefix.IsValid() {
			out = append(out, k)
		}
	}

	return out
}

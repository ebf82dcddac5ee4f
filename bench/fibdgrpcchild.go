package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fibd/fibd/api/fibdv1"
)

// controllerKind is the child kind of fibd-grpc's controller.
const controllerKind = "fibd-grpc"

// controllerTimeout bounds one scenario of the controller.
const controllerTimeout = 10 * time.Minute

// controllerSpec configures the controller child: fibd's socket and the
// number of routes per message.
type controllerSpec struct {
	ChildSpec
	Socket string `json:"socket"`
	Batch  int    `json:"batch"`
}

// controller is the child that feeds fibd over gRPC, as a controller
// that owns a table of routes would.
type controller struct {
	spec   controllerSpec
	conn   *grpc.ClientConn
	client fibdv1.FibClient

	// all are the next hops of the routes of each group of the workload;
	// failed, of every route, leaves out hop0.
	all    [][]*fibdv1.Nexthop
	failed [][]*fibdv1.Nexthop
}

func init() {
	RegisterChild(controllerKind, newController)
}

func newController(raw json.RawMessage) (ChildHandler, error) {
	var spec controllerSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("decode controller spec: %w", err)
	}

	if spec.Batch <= 0 {
		return nil, fmt.Errorf("invalid controller batch %d: want 1 or more routes", spec.Batch)
	}

	h := &controller{spec: spec}
	w := spec.Workload
	for g := range w.GroupCount() {
		hops := []*fibdv1.Nexthop{grpcHop(spec.Hops[0], w.Family)}
		if w.ECMP {
			w0, w1 := w.Weights(g)
			hops = append(hops, grpcHop(spec.Hops[1], w.Family))
			hops[0].Weight, hops[1].Weight = &w0, &w1
		}

		h.all = append(h.all, hops)
	}

	h.failed = [][]*fibdv1.Nexthop{{grpcHop(spec.Hops[1], w.Family)}}

	return h, nil
}

func grpcHop(l Link, family int) *fibdv1.Nexthop {
	return &fibdv1.Nexthop{Gateway: l.Gateway(family).String(), Device: l.Device}
}

// Prepare connects to fibd, new for a restart, and waits until a Status
// call succeeds, so that the measured work starts on a ready connection.
func (h *controller) Prepare(s Scenario) error {
	if h.conn != nil && s == Restart {
		h.conn.Close()
		h.conn = nil
	}

	if h.conn == nil {
		conn, err := grpc.NewClient("unix://"+h.spec.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return fmt.Errorf("connect to fibd on %s: %w", h.spec.Socket, err)
		}

		h.conn, h.client = conn, fibdv1.NewFibClient(conn)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if _, err := h.client.Status(ctx, &fibdv1.StatusRequest{}, grpc.WaitForReady(true)); err != nil {
		return fmt.Errorf("call fibd status on %s: %w", h.spec.Socket, err)
	}

	return nil
}

// Do performs a scenario and returns once fibd has replied that it tried
// to program every route.
func (h *controller) Do(s Scenario) error {
	ctx, cancel := context.WithTimeout(context.Background(), controllerTimeout)
	defer cancel()

	switch s {
	case Install, Recover:
		return h.stream(ctx, h.all, false)
	case Failover:
		return h.stream(ctx, h.failed, false)
	case Withdraw:
		return h.stream(ctx, nil, true)
	case Restart:
		return h.session(ctx)
	}

	return fmt.Errorf("unknown scenario %q", s)
}

// batch returns the message of routes [first, first+Batch), each over
// the next hops of its group in sets, or over sets[0] when sets has one.
func (h *controller) batch(first int, sets [][]*fibdv1.Nexthop) []*fibdv1.Route {
	w := h.spec.Workload
	n := min(h.spec.Batch, w.Routes-first)
	routes := make([]*fibdv1.Route, n)
	for i := range routes {
		hops := sets[0]
		if len(sets) > 1 {
			hops = sets[w.Group(first+i)]
		}

		routes[i] = &fibdv1.Route{Prefix: Prefix(w.Family, first+i).String(), Nexthops: hops}
	}

	return routes
}

// keys returns the keys of routes [first, first+Batch).
func (h *controller) keys(first int) []*fibdv1.RouteKey {
	n := min(h.spec.Batch, h.spec.Workload.Routes-first)
	keys := make([]*fibdv1.RouteKey, n)
	for i := range keys {
		keys[i] = &fibdv1.RouteKey{Prefix: Prefix(h.spec.Workload.Family, first+i).String()}
	}

	return keys
}

// stream sends every route over its next hops in sets (see batch), or
// with del every key, in one StreamRoutes stream, and checks fibd's counts.
func (h *controller) stream(ctx context.Context, sets [][]*fibdv1.Nexthop, del bool) error {
	st, err := h.client.StreamRoutes(ctx)
	if err != nil {
		return fmt.Errorf("open route stream: %w", err)
	}

	for first := 0; first < h.spec.Workload.Routes; first += h.spec.Batch {
		msg := &fibdv1.StreamRoutesRequest{Source: grpcSource}
		if del {
			msg.Delete = h.keys(first)
		} else {
			msg.Add = h.batch(first, sets)
		}

		// An error of Send shows in CloseAndRecv's status.
		if err := st.Send(msg); err != nil {
			break
		}
	}

	resp, err := st.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("stream routes: %w", err)
	}

	return checkStream(resp)
}

// checkStream returns an error when fibd did not program every route of
// a stream.
func checkStream(resp *fibdv1.StreamRoutesResponse) error {
	bad := resp.GetRejectedMessages() + resp.GetRejected() + resp.GetFailed() + resp.GetUnresolved()
	if bad == 0 {
		return nil
	}

	first := ""
	if errs := resp.GetErrors(); len(errs) > 0 {
		first = fmt.Sprintf(", first: %s %s", errs[0].GetPrefix(), errs[0].GetMessage())
	}

	return fmt.Errorf("stream routes: %d messages rejected, %d routes rejected, %d failed, %d unresolved%s",
		resp.GetRejectedMessages(), resp.GetRejected(), resp.GetFailed(), resp.GetUnresolved(), first)
}

// session sends the whole table in a session after a restart and ends it
// with end_of_table, so that fibd declares the source converged. Updates
// are sent without waiting for each result; fibd handles them in order.
func (h *controller) session(ctx context.Context) error {
	st, err := h.client.Session(ctx)
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}

	open := &fibdv1.SessionRequest{Request: &fibdv1.SessionRequest_Open{Open: &fibdv1.SessionOpen{Source: grpcSource}}}
	if err := st.Send(open); err != nil {
		return fmt.Errorf("open session: %w", sessionErr(st, err))
	}

	if resp, err := st.Recv(); err != nil || resp.GetOpened() == nil {
		return fmt.Errorf("open session: unexpected reply %v: %v", resp, err)
	}

	sent := make(chan error, 1)
	updates := (h.spec.Workload.Routes + h.spec.Batch - 1) / h.spec.Batch
	go func() { sent <- h.sendTable(st) }()

	if err := receiveTable(st, updates); err != nil {
		return err
	}

	if err := <-sent; err != nil {
		return err
	}

	// The server ends the stream once it has read the client's end.
	if _, err := st.Recv(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("end session: %v", err)
	}

	return nil
}

// sendTable sends every route in updates, then end_of_table, and closes
// the sending side. When Send fails, receiveTable receives the stream's
// status with the reason.
func (h *controller) sendTable(st fibdv1.Fib_SessionClient) error {
	id := uint64(0)
	for first := 0; first < h.spec.Workload.Routes; first += h.spec.Batch {
		id++
		u := &fibdv1.SessionUpdate{Id: id, Add: h.batch(first, h.all)}
		if err := st.Send(&fibdv1.SessionRequest{Request: &fibdv1.SessionRequest_Update{Update: u}}); err != nil {
			return fmt.Errorf("send session update %d: %w", id, err)
		}
	}

	eot := &fibdv1.SessionRequest{Request: &fibdv1.SessionRequest_EndOfTable{EndOfTable: &fibdv1.EndOfTable{}}}
	if err := st.Send(eot); err != nil {
		return fmt.Errorf("send end_of_table: %w", err)
	}

	return st.CloseSend()
}

// receiveTable reads the results of updates updates and then the reply to
// end_of_table, and returns the first failure.
func receiveTable(st fibdv1.Fib_SessionClient, updates int) error {
	for range updates {
		resp, err := st.Recv()
		if err != nil {
			return fmt.Errorf("receive session update result: %w", err)
		}

		u := resp.GetUpdate()
		if u == nil {
			return fmt.Errorf("receive session update result: unexpected reply %v", resp)
		}

		if u.GetCode() != 0 {
			return fmt.Errorf("session update %d rejected (code %d): %s", u.GetId(), u.GetCode(), u.GetMessage())
		}

		for _, r := range u.GetResults() {
			if r.GetCode() != fibdv1.ResultCode_RESULT_CODE_OK {
				return fmt.Errorf("session update %d: route %s: %s %s", u.GetId(), r.GetPrefix(), r.GetCode(), r.GetMessage())
			}
		}
	}

	resp, err := st.Recv()
	if err != nil {
		return fmt.Errorf("receive end_of_table reply: %w", err)
	}

	if resp.GetEndOfTable() == nil {
		return fmt.Errorf("receive end_of_table reply: unexpected reply %v", resp)
	}

	return nil
}

// sessionErr returns the stream's status when Send failed with io.EOF,
// which only means that the server ended the stream.
func sessionErr(st fibdv1.Fib_SessionClient, err error) error {
	if !errors.Is(err, io.EOF) {
		return err
	}

	if _, rerr := st.Recv(); rerr != nil {
		return rerr
	}

	return err
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/fibd/fibd/api/fibdv1"
)

// DefaultSocket is the daemon's socket when neither --socket nor
// $FIBD_SOCKET names one.
const DefaultSocket = "/run/fibd/fibd.sock"

// connectionUsage describes the flags that choose how a command reaches
// the daemon. Every command's usage text ends with it.
const connectionUsage = `
Connection flags:
  --socket PATH          fibd's unix socket (default $FIBD_SOCKET, else
                         /run/fibd/fibd.sock)
  --address HOST:PORT    fibd's TCP listener (api.tcp.address), used instead
                         of the unix socket (default $FIBD_ADDRESS)
  --ca FILE              PEM bundle of the CA that signed fibd's certificate
                         (default $FIBD_CA); without it TCP is plaintext and
                         allowed only to 127.0.0.0/8, ::1 or localhost
  --cert FILE, --key FILE
                         client certificate and its key, for a daemon that
                         requires one (default $FIBD_CERT, $FIBD_KEY)
  --server-name NAME     name to verify in fibd's certificate (default HOST)
`

// Exit codes of the commands.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// maxRecvMsgSize bounds one response from the daemon. Listings come in
// chunks far below it.
const maxRecvMsgSize = 64 << 20

// options are the flags every command accepts.
type options struct {
	socket string
	tcp    tcpOptions

	// set contains the flags given on the command line, which take
	// precedence over the environment.
	set map[string]bool

	json       bool
	timeout    time.Duration
	candidates bool
	file       string
}

// command is one invocation: its name for messages, usage text, flags and
// output streams.
type command struct {
	name   string
	usage  string
	stdout io.Writer
	stderr io.Writer
	opts   options
}

// parse separates flags from positional arguments, which may come in any
// order because the route grammar is positional. It reports false after
// printing a usage error.
func (c *command) parse(args []string, extra func(fs *flag.FlagSet)) ([]string, bool) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)

	socket := os.Getenv("FIBD_SOCKET")
	if socket == "" {
		socket = DefaultSocket
	}

	fs.StringVar(&c.opts.socket, "socket", socket, "path of fibd's unix socket")
	c.opts.tcp.register(fs)
	fs.BoolVar(&c.opts.json, "json", false, "print the answer as JSON")
	fs.DurationVar(&c.opts.timeout, "timeout", time.Minute, "time limit of the request")
	if extra != nil {
		extra(fs)
	}

	var flags, positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			positional = append(positional, args[i+1:]...)

			break
		}

		// A negative number is a value, such as "weight -1", which the
		// route parser then reports as out of range.
		if !strings.HasPrefix(arg, "-") || arg == "-" || isNumber(arg) {
			positional = append(positional, arg)

			continue
		}

		flags = append(flags, arg)
		name := strings.TrimLeft(arg, "-")
		if strings.Contains(name, "=") {
			continue
		}

		// A flag that takes a value consumes the next argument.
		if f := fs.Lookup(name); f != nil && !isBool(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}

	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, c.usage)

			return nil, false
		}

		c.usageError("%v", err)

		return nil, false
	}

	c.opts.set = make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { c.opts.set[f.Name] = true })

	if err := c.opts.checkConnection(); err != nil {
		c.usageError("%v", err)

		return nil, false
	}

	return positional, true
}

func isNumber(arg string) bool {
	_, err := strconv.ParseFloat(arg, 64)

	return err == nil
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })

	return ok && b.IsBoolFlag()
}

// usageError prints a usage problem and the usage text, and returns 2.
func (c *command) usageError(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "fibd %s: %s\n\n%s", c.name, fmt.Sprintf(format, args...), c.usage)

	return exitUsage
}

// fail prints an error and returns 1.
func (c *command) fail(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "fibd %s: %s\n", c.name, fmt.Sprintf(format, args...))

	return exitError
}

// dial returns a client of the daemon's unix socket, or of its TCP
// listener with --address. grpc connects lazily, so a missing daemon or a
// failed TLS handshake shows up at the first call (see rpcFailed).
func (c *command) dial() (fibdv1.FibClient, func(), error) {
	if c.opts.tcp.address != "" {
		return c.dialTCP()
	}

	target := "unix:" + c.opts.socket
	if filepath.IsAbs(c.opts.socket) {
		target = "unix://" + c.opts.socket
	}

	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to fibd on %s: %w", c.opts.socket, err)
	}

	return fibdv1.NewFibClient(conn), func() { conn.Close() }, nil
}

// run dials the daemon and calls fn with a context bounded by --timeout.
func (c *command) run(fn func(ctx context.Context, client fibdv1.FibClient) int) int {
	client, closeConn, err := c.dial()
	if err != nil {
		return c.fail("%v", err)
	}
	defer closeConn()

	ctx, cancel := context.WithTimeout(context.Background(), c.opts.timeout)
	defer cancel()

	return fn(ctx, client)
}

// rpcFailed prints a failed call in terms the operator can act on and
// returns 1.
func (c *command) rpcFailed(rpc string, err error) int {
	st := status.Convert(err)

	switch st.Code() {
	case codes.Unavailable:
		if c.opts.tcp.address != "" {
			return c.fail("%s", c.opts.tcp.explain(st.Message()))
		}

		if _, statErr := os.Stat(c.opts.socket); errors.Is(statErr, fs.ErrNotExist) || strings.Contains(st.Message(), "connection") {
			return c.fail("cannot connect to fibd on unix socket %s: %s\nstart the daemon with `fibd run --config FILE`, or name its socket with --socket PATH or $FIBD_SOCKET", c.opts.socket, st.Message())
		}
	case codes.InvalidArgument:
		return c.fail("invalid request: %s%s", st.Message(), otherViolations(st))
	case codes.DeadlineExceeded:
		return c.fail("%s: timed out after %s; raise --timeout", rpc, c.opts.timeout)
	}

	return c.fail("%s: %s: %s", rpc, st.Code(), st.Message())
}

// otherViolations lists the field violations after the first, which the
// status message already names.
func otherViolations(st *status.Status) string {
	var b strings.Builder
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}

		for i, v := range br.GetFieldViolations() {
			if i > 0 {
				fmt.Fprintf(&b, "\n  %s: %s", v.GetField(), v.GetDescription())
			}
		}
	}

	return b.String()
}

// printJSON prints m as indented JSON with every scalar field, so that
// scripts see zeros and false values too.
func (c *command) printJSON(m proto.Message) int {
	raw, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(m)
	if err != nil {
		return c.fail("encode JSON: %v", err)
	}

	// protojson varies its spacing on purpose; Indent makes it stable.
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return c.fail("encode JSON: %v", err)
	}

	out.WriteByte('\n')
	c.stdout.Write(out.Bytes())

	return exitOK
}

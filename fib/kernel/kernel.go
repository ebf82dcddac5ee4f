package kernel

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// Defaults of Config.
const (
	// DefaultProtocol is the route and nexthop protocol (rtm_protocol,
	// nhm_protocol) that marks fibd's objects, named "fibd" in
	// /etc/iproute2/rt_protos.d/fibd.conf.
	DefaultProtocol uint8 = 201

	// DefaultBufferBytes is the default size of the socket buffers. The
	// kernel queues one error message per failed request, so the receive
	// buffer must hold the errors of a whole batch.
	DefaultBufferBytes = 32 << 20

	// DefaultMaxBatchBytes is the default size of one sendmsg of requests.
	DefaultMaxBatchBytes = 256 << 10
)

// Config configures a Kernel. The zero Config programs the current network
// namespace with protocol 201 and the default buffer sizes.
type Config struct {
	// NetNS is a file descriptor of the network namespace to program. Zero
	// means the namespace of the calling thread.
	NetNS int

	// Protocol marks every route and nexthop object fibd creates; zero
	// means DefaultProtocol. Objects of other protocols are never changed.
	Protocol uint8

	// ReadBuffer and WriteBuffer are the socket buffer sizes in bytes,
	// forced with SO_RCVBUFFORCE and SO_SNDBUFFORCE when the process has
	// CAP_NET_ADMIN. Zero means DefaultBufferBytes.
	ReadBuffer  int
	WriteBuffer int

	// MaxBatchBytes is the size in bytes of the requests sent in one
	// sendmsg call. Zero means DefaultMaxBatchBytes. It is capped below the
	// socket's write buffer.
	MaxBatchBytes int

	// Range limits the foreign nexthop ids that Dump reports to fibd's id
	// range. The zero Range reports every foreign id.
	Range nexthop.Range

	// AckEach requests an acknowledgement for every request instead of
	// one per batch. It is slower and exists to measure the difference.
	AckEach bool

	// WriterNice is the nice value, -20 to 19, of the thread that runs
	// Apply while it writes requests, when below the thread's own. The
	// kernel programs each batch on that thread, so a writer preempted by
	// other threads programs routes more slowly. Zero means
	// DefaultWriterNice.
	WriterNice int

	// KeepWriterNice leaves the writer's thread at its own nice value.
	KeepWriterNice bool
}

func (c Config) withDefaults() Config {
	if c.Protocol == 0 {
		c.Protocol = DefaultProtocol
	}

	if c.ReadBuffer == 0 {
		c.ReadBuffer = DefaultBufferBytes
	}

	if c.WriteBuffer == 0 {
		c.WriteBuffer = DefaultBufferBytes
	}

	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}

	if c.WriterNice == 0 {
		c.WriterNice = DefaultWriterNice
	}

	return c
}

// Kernel programs routes and nexthop objects into one network namespace
// over rtnetlink. It implements fib.Dataplane. Its methods are safe for
// concurrent use; calls to Apply run one at a time.
type Kernel struct {
	cfg Config

	// applyMu serialises Apply and guards the fields below it. niceDenied
	// is set when the process may not lower a nice value.
	applyMu    sync.Mutex
	apply      transport
	buf        []byte
	rbuf       []byte
	seq        uint32
	niceDenied bool

	// replyTimeout is the wait for a barrier's acknowledgement, which
	// tests shorten.
	replyTimeout time.Duration

	// queryMu serialises dumps and lookups on the query socket.
	queryMu sync.Mutex
	query   *netlink.Conn

	links linkCache
	stats counters
}

var _ fib.Dataplane = (*Kernel)(nil)

// Open opens the netlink sockets of a Kernel in the namespace cfg.NetNS.
// Close releases them.
func Open(cfg Config) (*Kernel, error) {
	cfg = cfg.withDefaults()
	if cfg.WriterNice < -20 || cfg.WriterNice > 19 {
		return nil, fmt.Errorf("writer nice value %d is out of range: use -20 to 19", cfg.WriterNice)
	}

	apply, err := dialRaw(cfg)
	if err != nil {
		return nil, err
	}

	query, err := dialQuery(cfg)
	if err != nil {
		apply.close()

		return nil, err
	}

	cfg.MaxBatchBytes = batchBytes(cfg.MaxBatchBytes, apply)
	k := newKernel(cfg, apply, query)

	// Load the links now rather than in the first Apply, whose objects
	// would wait for the dump. A failure here only leaves the cache to
	// the first lookup.
	k.links.load(context.Background())

	return k, nil
}

// Estimates of the receive buffer space that replies take.
const (
	// replyBytes is the space one error reply or acknowledgement takes:
	// its skb truesize, about 1 KiB as measured on Linux 6.18.
	replyBytes = 1024

	// minRequestBytes is the size of the smallest request, an IPv4 route
	// delete (52 bytes), so a batch has at most size/minRequestBytes
	// replies.
	minRequestBytes = 50
)

// batchBytes sizes the batches from the socket buffers, such as when the
// process could not force them to Config's sizes. The kernel rejects a
// sendmsg larger than the send buffer. The replies of a batch must fit
// half the receive buffer even when every request fails, or the kernel
// drops them and reports ENOBUFS.
func batchBytes(size int, t transport) int {
	read, write := t.buffers()
	if write > 0 {
		size = min(size, write/2)
	}

	if read == 0 {
		return size
	}

	return max(min(size, read/2*minRequestBytes/replyBytes), 4<<10)
}

func newKernel(cfg Config, apply transport, query *netlink.Conn) *Kernel {
	cfg = cfg.withDefaults()
	k := &Kernel{
		cfg:          cfg,
		replyTimeout: replyTimeout,
		apply:        apply,
		buf:          make([]byte, 0, cfg.MaxBatchBytes+maxMessageBytes),
		query:        query,
	}
	k.links.list = k.listLinks

	return k
}

// Close closes the sockets. The Kernel must not be used afterwards.
func (k *Kernel) Close() error {
	errApply := k.apply.close()
	errQuery := k.query.Close()
	if errApply != nil {
		return fmt.Errorf("close request socket: %w", errApply)
	}

	if errQuery != nil {
		return fmt.Errorf("close query socket: %w", errQuery)
	}

	return nil
}

// Protocol returns the protocol number that marks fibd's objects.
func (k *Kernel) Protocol() uint8 {
	return k.cfg.Protocol
}

func dialQuery(cfg Config) (*netlink.Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: cfg.NetNS, Strict: true})
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink query socket: %w", err)
	}

	// Dumps of wide multipath routes need more than the default buffer.
	if err := c.SetReadBuffer(cfg.ReadBuffer); err != nil {
		c.Close()

		return nil, fmt.Errorf("set read buffer of rtnetlink query socket: %w", err)
	}

	return c, nil
}

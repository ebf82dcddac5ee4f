package kernel

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// linkCache maps interface names to indexes and back. A miss refreshes the
// whole cache with a link dump, so that a device created or renamed since
// the last dump is found, with the new index of a recreated device.
type linkCache struct {
	list func(ctx context.Context) (map[string]uint32, error)

	mu      sync.Mutex
	byName  map[string]uint32
	byIndex map[uint32]string
}

// index returns the ifindex of the device name, refreshing the cache once
// when the name is unknown. It returns zero when no such device exists.
func (c *linkCache) index(ctx context.Context, name string) (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if i, ok := c.byName[name]; ok {
		return i, nil
	}

	if err := c.refreshLocked(ctx); err != nil {
		return 0, err
	}

	return c.byName[name], nil
}

// name returns the name of the device with ifindex i, refreshing the cache
// once when the index is unknown. It returns "" when no such device exists.
func (c *linkCache) name(ctx context.Context, i uint32) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if n, ok := c.byIndex[i]; ok {
		return n, nil
	}

	if err := c.refreshLocked(ctx); err != nil {
		return "", err
	}

	return c.byIndex[i], nil
}

// cachedIndex returns the ifindex of name if the cache has it, without a
// refresh.
func (c *linkCache) cachedIndex(name string) (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()

	i, ok := c.byName[name]

	return i, ok
}

// load fills the cache unless it is filled, and keeps it as it was when
// the dump fails.
func (c *linkCache) load(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.byName == nil {
		_ = c.refreshLocked(ctx)
	}
}

// invalidate drops the cache, so that the next lookup dumps the links.
func (c *linkCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.byName, c.byIndex = nil, nil
}

func (c *linkCache) refreshLocked(ctx context.Context) error {
	byName, err := c.list(ctx)
	if err != nil {
		return err
	}

	c.byName = byName
	c.byIndex = make(map[uint32]string, len(byName))
	for name, i := range byName {
		c.byIndex[i] = name
	}

	return nil
}

// listLinks dumps the links of the namespace on the query socket and
// returns their indexes by name.
func (k *Kernel) listLinks(ctx context.Context) (map[string]uint32, error) {
	req := netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, unix.SizeofIfInfomsg),
	}

	links := make(map[string]uint32)
	err := k.dump(ctx, req, func(m netlink.Message) error {
		var link rtnetlink.LinkMessage
		if err := link.UnmarshalBinary(m.Data); err != nil {
			return fmt.Errorf("decode link: %w", err)
		}

		if link.Attributes != nil {
			links[link.Attributes.Name] = link.Index
		}

		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}

	return links, nil
}

// linkLookupTimeout bounds the link dump of LinkExists.
const linkLookupTimeout = 5 * time.Second

// LinkExists reports whether the namespace has a network interface named
// name, dumping the links again when the name is not cached. When the
// dump fails it reports true, so that the caller lets the kernel decide.
func (k *Kernel) LinkExists(name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), linkLookupTimeout)
	defer cancel()

	i, err := k.links.index(ctx, name)

	return err != nil || i != 0
}

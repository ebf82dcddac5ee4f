package cli

import (
	"fmt"
	"strconv"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/nexthop"
)

// routeTypes maps iproute2's type names to the API's.
var routeTypes = map[string]fibdv1.RouteType{
	"unicast":     fibdv1.RouteType_ROUTE_TYPE_UNICAST,
	"blackhole":   fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE,
	"unreachable": fibdv1.RouteType_ROUTE_TYPE_UNREACHABLE,
	"prohibit":    fibdv1.RouteType_ROUTE_TYPE_PROHIBIT,
}

// routeSpec is a parsed `route add` or `route del` line.
type routeSpec struct {
	route  *fibdv1.Route
	source string
}

// specParser walks the words of a route line.
type specParser struct {
	words []string
	i     int
	spec  routeSpec
	hop   *fibdv1.Nexthop
	seen  map[string]bool
}

// parseAddSpec parses the iproute2-like words of `route add`:
//
//	[TYPE] PREFIX [via ADDR] [dev NAME] [weight N] [onlink]
//	  [nexthop via ADDR dev NAME weight N [onlink]]... [table N] [metric N]
//	  [type TYPE] [distance N] [resilient buckets N [idle_timer S]
//	  [unbalanced_timer S]] [source NAME]
//
// A via or dev that the current next hop already has starts the next one,
// so "via A dev X via B dev Y" is two next hops. Values are checked by the
// daemon, which names the field and the fix; the parser checks the
// grammar and numbers.
func parseAddSpec(words []string) (routeSpec, error) {
	p := &specParser{words: words, spec: routeSpec{route: &fibdv1.Route{}}, seen: make(map[string]bool)}
	for p.i < len(p.words) {
		if err := p.word(); err != nil {
			return routeSpec{}, err
		}
	}

	if p.spec.route.Prefix == "" {
		return routeSpec{}, fmt.Errorf("missing prefix, such as 192.0.2.0/24")
	}

	return p.spec, nil
}

// word consumes the next word and its values.
func (p *specParser) word() error {
	w := p.words[p.i]
	p.i++

	switch w {
	case "via", "dev":
		return p.hopWord(w)
	case "nexthop":
		if p.i >= len(p.words) || (p.words[p.i] != "via" && p.words[p.i] != "dev") {
			return fmt.Errorf("nexthop must be followed by via ADDR or dev NAME")
		}

		p.newHop()

		return nil
	case "weight":
		return p.weight()
	case "onlink":
		if p.hop == nil {
			return fmt.Errorf("onlink must follow a next hop (via ADDR dev NAME)")
		}

		p.hop.Onlink = true

		return nil
	case "resilient":
		return p.resilient()
	}

	if _, ok := routeTypes[w]; ok && p.spec.route.Prefix == "" && p.i == 1 {
		return p.setType(w)
	}

	return p.routeWord(w)
}

// routeWord consumes a keyword of the route itself, or the prefix.
func (p *specParser) routeWord(w string) error {
	r := p.spec.route
	switch w {
	case "table":
		return p.numberOnce(w, func(n uint32) { r.Table = &n })
	case "metric", "priority", "preference":
		return p.numberOnce("metric", func(n uint32) { r.Metric = n })
	case "distance":
		return p.numberOnce(w, func(n uint32) { r.Distance = &n })
	case "type":
		v, err := p.value(w)
		if err != nil {
			return err
		}

		return p.setType(v)
	case "source":
		v, err := p.value(w)
		p.spec.source = v

		return err
	}

	if r.Prefix != "" {
		return fmt.Errorf("unexpected argument %q after prefix %s", w, r.Prefix)
	}

	r.Prefix = w

	return nil
}

func (p *specParser) hopWord(w string) error {
	v, err := p.value(w)
	if err != nil {
		return err
	}

	if w == "via" {
		if p.hop == nil || p.hop.Gateway != "" {
			p.newHop()
		}

		p.hop.Gateway = v

		return nil
	}

	if p.hop == nil || p.hop.Device != "" {
		p.newHop()
	}

	p.hop.Device = v

	return nil
}

func (p *specParser) newHop() {
	p.hop = &fibdv1.Nexthop{}
	p.spec.route.Nexthops = append(p.spec.route.Nexthops, p.hop)
}

func (p *specParser) weight() error {
	if p.hop == nil {
		return fmt.Errorf("weight must follow a next hop (via ADDR dev NAME)")
	}

	if p.hop.Weight != nil {
		return fmt.Errorf("weight is given twice for next hop %d", len(p.spec.route.Nexthops))
	}

	hop := p.hop

	return p.numberIn("weight", 1, nexthop.MaxWeight, func(n uint32) { hop.Weight = &n })
}

// resilient consumes "resilient" and its parameters; buckets is required.
func (p *specParser) resilient() error {
	if p.spec.route.Resilient != nil {
		return fmt.Errorf("resilient is given twice")
	}

	res := &fibdv1.ResilientGroup{}
	p.spec.route.Resilient = res

	for p.i < len(p.words) {
		var err error
		switch p.words[p.i] {
		case "buckets":
			p.i++
			err = p.number("buckets", func(n uint32) { res.Buckets = n })
		case "idle_timer":
			p.i++
			err = p.number("idle_timer", func(n uint32) { res.IdleTimer = n })
		case "unbalanced_timer":
			p.i++
			err = p.number("unbalanced_timer", func(n uint32) { res.UnbalancedTimer = n })
		default:
			return p.requireBuckets(res)
		}

		if err != nil {
			return err
		}
	}

	return p.requireBuckets(res)
}

func (p *specParser) requireBuckets(res *fibdv1.ResilientGroup) error {
	if res.Buckets == 0 {
		return fmt.Errorf("resilient needs buckets N (1 to 65535)")
	}

	return nil
}

func (p *specParser) setType(name string) error {
	t, ok := routeTypes[name]
	if !ok {
		return fmt.Errorf("unknown route type %q; use unicast, blackhole, unreachable or prohibit", name)
	}

	if p.seen["type"] {
		return fmt.Errorf("type is given twice")
	}

	p.seen["type"] = true
	p.spec.route.Type = t

	return nil
}

// numberOnce consumes the number after a route keyword that may appear once.
func (p *specParser) numberOnce(keyword string, set func(uint32)) error {
	if p.seen[keyword] {
		return fmt.Errorf("%s is given twice", keyword)
	}

	p.seen[keyword] = true

	return p.number(keyword, set)
}

// number consumes a decimal uint32 value.
func (p *specParser) number(keyword string, set func(uint32)) error {
	v, err := p.value(keyword)
	if err != nil {
		return err
	}

	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return fmt.Errorf("invalid %s %q: want a number from 0 to 4294967295", keyword, v)
	}

	set(uint32(n))

	return nil
}

// numberIn consumes the number after keyword, which must be from low to
// high.
func (p *specParser) numberIn(keyword string, low, high uint32, set func(uint32)) error {
	v, err := p.value(keyword)
	if err != nil {
		return err
	}

	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || uint32(n) < low || uint32(n) > high {
		return fmt.Errorf("invalid %s %s: use %d to %d", keyword, v, low, high)
	}

	set(uint32(n))

	return nil
}

// value consumes the value after keyword.
func (p *specParser) value(keyword string) (string, error) {
	if p.i >= len(p.words) {
		return "", fmt.Errorf("missing value after %s", keyword)
	}

	v := p.words[p.i]
	p.i++

	return v, nil
}

// parseKeySpec parses the words of `route del`: PREFIX [table N]
// [source NAME].
func parseKeySpec(words []string) (*fibdv1.RouteKey, string, error) {
	key := &fibdv1.RouteKey{}
	source := ""
	p := &specParser{words: words, seen: make(map[string]bool)}

	for p.i < len(p.words) {
		w := p.words[p.i]
		p.i++

		var err error
		switch w {
		case "table":
			err = p.numberOnce(w, func(n uint32) { key.Table = &n })
		case "source":
			source, err = p.value(w)
		default:
			if key.Prefix != "" {
				err = fmt.Errorf("unexpected argument %q after prefix %s", w, key.Prefix)
			}

			key.Prefix = w
		}

		if err != nil {
			return nil, "", err
		}
	}

	if key.Prefix == "" {
		return nil, "", fmt.Errorf("missing prefix, such as 192.0.2.0/24")
	}

	return key, source, nil
}

// parseFilter parses the words of `route list`: [PREFIX] [table N]
// [prefix PREFIX] [source NAME] [family inet|inet6].
func parseFilter(words []string) (*fibdv1.RouteFilter, error) {
	f := &fibdv1.RouteFilter{}
	p := &specParser{words: words, seen: make(map[string]bool)}

	for p.i < len(p.words) {
		w := p.words[p.i]
		p.i++

		var err error
		switch w {
		case "table":
			err = p.numberOnce(w, func(n uint32) { f.Table = n })
		case "source":
			f.Source, err = p.value(w)
		case "prefix":
			f.Prefix, err = p.value(w)
		case "family":
			f.Family, err = p.family()
		default:
			if f.Prefix != "" {
				err = fmt.Errorf("unexpected argument %q", w)
			}

			f.Prefix = w
		}

		if err != nil {
			return nil, err
		}
	}

	return f, nil
}

func (p *specParser) family() (fibdv1.Family, error) {
	v, err := p.value("family")
	if err != nil {
		return 0, err
	}

	switch v {
	case "inet", "ipv4", "4":
		return fibdv1.Family_FAMILY_INET, nil
	case "inet6", "ipv6", "6":
		return fibdv1.Family_FAMILY_INET6, nil
	}

	return 0, fmt.Errorf("unknown family %q; use inet or inet6", v)
}

package server

import (
	"fmt"
	"net/netip"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib"
)

// maxViolations bounds the field violations reported for one request.
const maxViolations = 20

// maxSourceLen bounds a source name, which appears in listings and logs.
const maxSourceLen = 64

// maxDeviceLen is the longest interface name the kernel accepts
// (IFNAMSIZ - 1).
const maxDeviceLen = 15

// violation is a validation failure of one request field. Description is a
// sentence that names the value and what to do.
type violation struct {
	field       string
	description string
}

// violations collects the failures of one request.
type violations struct {
	list  []violation
	total int
}

func (v *violations) add(field, format string, args ...any) {
	v.total++
	if len(v.list) < maxViolations {
		v.list = append(v.list, violation{field: field, description: fmt.Sprintf(format, args...)})
	}
}

func (v *violations) empty() bool {
	return v.total == 0
}

// message formats the first violation and how many others there are.
func (v *violations) message() string {
	first := v.list[0]
	msg := first.field + ": " + first.description
	switch {
	case v.total == 2:
		msg += " (and 1 more problem)"
	case v.total > 2:
		msg += fmt.Sprintf(" (and %d more problems)", v.total-1)
	}

	return msg
}

// err returns the INVALID_ARGUMENT status of the violations, with a
// google.rpc.BadRequest detail, or nil when there are none.
func (v *violations) err() error {
	if v.empty() {
		return nil
	}

	st := status.New(codes.InvalidArgument, v.message())
	br := &errdetails.BadRequest{}
	for _, x := range v.list {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       x.field,
			Description: x.description,
		})
	}

	if detailed, err := st.WithDetails(br); err == nil {
		st = detailed
	}

	return st.Err()
}

// checkSource validates the source a request names.
func (s *Server) checkSource(v *violations, source string) {
	switch {
	case source == "":
		v.add("source", "source is empty; name the client (for example \"controller-1\") so that fibd keeps its routes apart from other sources'")
	case len(source) > maxSourceLen:
		v.add("source", "source %q is longer than %d characters; use a shorter name", source, maxSourceLen)
	case strings.ContainsFunc(source, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		v.add("source", "source %q contains spaces or control characters; use letters, digits, '-', '_' or '.'", source)
	case s.reserved[source]:
		v.add("source", "source %q is reserved for fibd's own producers; choose another name", source)
	}
}

// checkBatch validates the size of a batch of n routes or keys.
func (s *Server) checkBatch(v *violations, field string, n int) bool {
	if n <= s.cfg.MaxBatch {
		return true
	}

	v.add(field, "batch of %d entries is over the limit of %d (api.max-batch); split it into smaller requests", n, s.cfg.MaxBatch)

	return false
}

// parseRoutes converts and validates the routes of a request for source.
// field is the request field that holds them, such as "routes".
func (s *Server) parseRoutes(v *violations, source, field string, in []*fibdv1.Route) []fib.Route {
	routes := make([]fib.Route, 0, len(in))
	seen := make(map[fib.Key]int, len(in))

	for i, r := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		route, ok := s.parseRoute(v, source, f, r)
		if !ok {
			continue
		}

		if j, dup := seen[route.Key()]; dup {
			v.add(f, "route %s repeats the key of %s[%d]; send one route per prefix and table in a batch", route.Key(), field, j)

			continue
		}

		seen[route.Key()] = i
		routes = append(routes, route)
	}

	return routes
}

// parseRoute converts and validates one route; it reports whether the
// route is valid.
func (s *Server) parseRoute(v *violations, source, field string, r *fibdv1.Route) (fib.Route, bool) {
	before := v.total

	prefix, ok := parsePrefix(v, field+".prefix", r.GetPrefix())
	if !ok {
		return fib.Route{}, false
	}

	route := fib.Route{
		Prefix:   prefix,
		Table:    parseTable(v, field+".table", r.Table),
		Metric:   r.GetMetric(),
		Type:     parseType(v, field+".type", r.GetType()),
		Source:   source,
		Distance: s.parseDistance(v, field+".distance", source, r.Distance),
	}

	if r.GetSource() != "" && r.GetSource() != source {
		v.add(field+".source", "route source %q differs from the request's source %q; leave it empty or set the same name", r.GetSource(), source)
	}

	route.NextHops = s.parseNexthops(v, field, route, r)
	if v.total > before {
		return fib.Route{}, false
	}

	// fib's own rules are the last word; a failure here means the checks
	// above miss a case, and the message still names the route.
	if err := route.Validate(); err != nil {
		v.add(field, "%v", err)

		return fib.Route{}, false
	}

	return route, true
}

// parsePrefix parses a prefix that must have no host bits set.
func parsePrefix(v *violations, field, text string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(text)
	if err != nil {
		v.add(field, "invalid prefix %q: %v; write it like 192.0.2.0/24 or 2001:db8::/32", text, err)

		return netip.Prefix{}, false
	}

	if p.Addr().Is4In6() {
		plain := netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0)).Masked()
		v.add(field, "prefix %s is an IPv4-mapped IPv6 prefix; use the plain IPv4 form %s", p, plain)

		return netip.Prefix{}, false
	}

	if masked := p.Masked(); masked != p {
		v.add(field, "prefix %s has host bits set; use %s", p, masked)

		return netip.Prefix{}, false
	}

	return p, true
}

// parseTable returns the table, with unset meaning main.
func parseTable(v *violations, field string, table *uint32) uint32 {
	if table == nil {
		return fib.TableMain
	}

	switch *table {
	case fib.TableUnspec, fib.TableCompat, fib.TableDefault, fib.TableLocal:
		v.add(field, "table %d is reserved by the kernel (0 unspec, 252 compat, 253 default, 255 local); use 254 (main, or leave it unset), 1 to 251, or 256 and above", *table)
	}

	return *table
}

// parseType returns the route type, with unspecified meaning unicast.
func parseType(v *violations, field string, t fibdv1.RouteType) fib.Type {
	switch t {
	case fibdv1.RouteType_ROUTE_TYPE_UNSPECIFIED, fibdv1.RouteType_ROUTE_TYPE_UNICAST:
		return fib.TypeUnicast
	case fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE:
		return fib.TypeBlackhole
	case fibdv1.RouteType_ROUTE_TYPE_UNREACHABLE:
		return fib.TypeUnreachable
	case fibdv1.RouteType_ROUTE_TYPE_PROHIBIT:
		return fib.TypeProhibit
	}

	v.add(field, "route type %d is unknown; use unicast, blackhole, unreachable or prohibit", int32(t))

	return 0
}

// parseDistance returns the source's distance, raised by the route's
// override when it has one.
func (s *Server) parseDistance(v *violations, field, source string, override *uint32) fib.Distance {
	configured := s.distance(source)
	if override == nil {
		return configured
	}

	d := *override
	switch {
	case d > 255:
		v.add(field, "distance %d is out of range; use %d to 255", d, configured)
	case d < uint32(configured):
		v.add(field, "distance %d is below source %q's configured distance %d; a client may only raise its distance (set api.sources.%s.distance in fibd's configuration to lower it)", d, source, configured, source)
	default:
		return fib.Distance(d)
	}

	return configured
}

package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fibd/fibd/nexthop"
)

// Duration is a time.Duration written as Go writes durations ("30s", "5m",
// "1h30m").
type Duration time.Duration

// String formats the duration like time.Duration.
func (d Duration) String() string {
	return time.Duration(d).String()
}

func (d *Duration) parseScalar(value string) error {
	v, err := time.ParseDuration(value)
	if err != nil {
		return fmt.Errorf("is not a duration: use a number with a unit, such as 30s, 5m or 1h")
	}

	if v < 0 {
		return fmt.Errorf("is negative: a duration must be 0 or more")
	}

	*d = Duration(v)

	return nil
}

// FileMode is a file permission mode written in octal ("0660").
type FileMode os.FileMode

// String formats the mode in octal with a leading zero.
func (m FileMode) String() string {
	return fmt.Sprintf("%#o", uint32(m))
}

func (m *FileMode) parseScalar(value string) error {
	v, err := strconv.ParseUint(value, 8, 32)
	if err != nil || !strings.HasPrefix(value, "0") {
		return fmt.Errorf("is not an octal file mode: write it quoted with a leading zero, such as \"0660\"")
	}

	if v > 0o777 {
		return fmt.Errorf("has bits beyond permissions: use 0000 to 0777")
	}

	*m = FileMode(v)

	return nil
}

// IDRange is an inclusive range of nexthop ids written "FIRST-LAST".
type IDRange nexthop.Range

// String formats the range as "FIRST-LAST".
func (r IDRange) String() string {
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

func (r *IDRange) parseScalar(value string) error {
	first, last, ok := strings.Cut(value, "-")
	if !ok {
		return fmt.Errorf("is not a range: write FIRST-LAST, such as 3000000000-3099999999")
	}

	a, errA := strconv.ParseUint(strings.TrimSpace(first), 10, 32)
	b, errB := strconv.ParseUint(strings.TrimSpace(last), 10, 32)
	if errA != nil || errB != nil {
		return fmt.Errorf("is not a range of ids: FIRST and LAST are integers from 1 to 4294967295")
	}

	switch {
	case a == 0:
		return fmt.Errorf("starts at 0: nexthop id 0 means no object, start at 1 or above")
	case a > b:
		return fmt.Errorf("is not a range: first must be <= last")
	}

	*r = IDRange{First: nexthop.ID(a), Last: nexthop.ID(b)}

	return nil
}

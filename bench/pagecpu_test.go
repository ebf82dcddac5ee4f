package bench

import (
	"fmt"
	"strings"
	"testing"
)

func TestRenderCPUExtraPerRoute(t *testing.T) {
	w := Workload{Family: 4, Routes: 1_000_000}
	r := &Results{
		Machine: Machine{CPUs: 2},
		Measurements: []Measurement{
			{Contender: cpuReference, Scenario: "install", Workload: w, Samples: []Sample{{Seconds: 1.5, CPUSeconds: 2}}},
			{Contender: fibdName, Scenario: "install", Workload: w, Samples: []Sample{{Seconds: 2.5, CPUSeconds: 3.5}}},
		},
	}

	var b strings.Builder
	renderCPU(func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }, r)

	want := "| 1M IPv4 1 hop | 1.50 | 2.00 | 2.50 | 3.50 | 1.50 |"
	if !strings.Contains(b.String(), want) {
		t.Errorf("section lacks %q:\n%s", want, b.String())
	}
}

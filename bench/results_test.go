package bench

import "testing"

// TestMergePairsRatiosWithinInvocation checks that a ratio pairs fibd with
// the contender of the same invocation, although the tables show the
// first invocation's fibd.
func TestMergePairsRatiosWithinInvocation(t *testing.T) {
	w := Workload{Family: 4, Routes: 1_000_000}
	install := func(contender string, secs float64) Measurement {
		return Measurement{Contender: contender, Scenario: "install", Workload: w, Samples: []Sample{{Seconds: secs}}}
	}

	first := &Results{Measurements: []Measurement{install(fibdName, 2), install("writer-nhg", 1)}}
	second := &Results{Measurements: []Measurement{install(fibdName, 4), install("zebra", 40)}}
	m := Merge([]*Results{first, second})

	if got := m.Find(fibdName, "install", w).Samples[0].Seconds; got != 2 {
		t.Errorf("fibd install in the tables = %v s, want the first invocation's 2 s", got)
	}

	s, ok := ratio(m, "zebra", w)
	if !ok || s.Median != 10 {
		t.Errorf("fibd ÷ zebra = %v (%v), want 10 from the second invocation's pair", s.Median, ok)
	}

	s, ok = ratio(m, "writer-nhg", w)
	if !ok || s.Median != 0.5 {
		t.Errorf("fibd ÷ writer-nhg = %v (%v), want 0.5 from the first invocation's pair", s.Median, ok)
	}
}

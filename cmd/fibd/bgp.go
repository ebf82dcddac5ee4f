package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/gobgp"
	"github.com/fibd/fibd/internal/config"
)

// bgpOptions translates the gobgp and bgp sections for package gobgp.
func bgpOptions(cfg *config.Config, log *slog.Logger) gobgp.Options {
	g := cfg.GoBGP

	return gobgp.Options{
		Mode:               g.Mode,
		Config:             cfg.BGP,
		RemoteAddress:      g.RemoteAddress,
		APIAddress:         g.APIAddress,
		EBGPDistance:       fib.Distance(g.EBGPDistance),
		IBGPDistance:       fib.Distance(g.IBGPDistance),
		Table:              g.Table,
		Metric:             g.Metric,
		ConvergenceTimeout: time.Duration(g.ConvergenceTimeout),
		Logger:             log,
	}
}

// checkBGP validates the bgp section with GoBGP's own schema, which
// package config keeps undecoded, so that `fibd run --check` and a reload
// reject a file that would fail at the next start.
func checkBGP(cfg *config.Config) error {
	if !cfg.BGPEnabled() {
		return nil
	}

	if _, err := gobgp.New(bgpOptions(cfg, slog.New(slog.DiscardHandler)), discardSink{}); err != nil {
		return fmt.Errorf("config bgp: %w", err)
	}

	return nil
}

// discardSink is a gobgp.Sink for validation; it is never called because
// the source is never run.
type discardSink struct{}

func (discardSink) Update(routes []fib.Route) []error       { return make([]error, len(routes)) }
func (discardSink) Withdraw(string, []fib.Key)              {}
func (discardSink) SetGatewayDown(netip.Addr, string, bool) {}
func (discardSink) Converged(string)                        {}

var _ gobgp.Sink = discardSink{}

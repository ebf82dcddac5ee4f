package main

import (
	"context"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/internal/config"
	"github.com/fibd/fibd/internal/logging"
)

func (d *daemon) reloadLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.reloads:
			d.reload()
		}
	}
}

// reload reads the configuration file again and applies the keys that can
// change live. A file that does not load or validate is logged and the
// running configuration is kept.
func (d *daemon) reload() {
	if err := d.notifier.Reloading(); err != nil {
		d.log.Warn("notify systemd of reloading failed", logging.Err(err))
	}

	defer func() {
		if err := d.notifier.Ready("configuration reloaded"); err != nil {
			d.log.Warn("notify systemd of readiness failed", logging.Err(err))
		}
	}()

	next, err := loadConfig(d.configPath)
	if err != nil {
		d.log.Error("reload failed, keeping the running configuration", "config", d.configPath, logging.Err(err))

		return
	}

	d.mu.Lock()
	defer d.mu.Unlock()

	changes := config.Changes(d.cfg, next)
	if len(changes) == 0 {
		d.log.Info("configuration reloaded without changes", "config", d.configPath)

		return
	}

	groups, restart := groupChanges(changes)

	var applied []string
	for _, group := range groups {
		if d.applyLocked(group, next) {
			applied = append(applied, group)
		} else {
			restart = append(restart, group)
		}
	}

	d.log.Info("configuration reloaded", "config", d.configPath, "applied", applied, "restart_needed", restart)
	for _, key := range restart {
		d.log.Warn("changed key takes effect at the next restart", "key", key)
	}
}

// applyLocked applies one live group from next and copies it into the
// running configuration. It returns false for a group it does not know,
// which then waits for a restart.
func (d *daemon) applyLocked(group string, next *config.Config) bool {
	switch group {
	case liveLogLevel:
		if err := d.logger.SetLevel(next.Log.Level); err != nil {
			return false
		}

		d.cfg.Log.Level = next.Log.Level
	case liveDistances:
		d.api.SetSources(sourceDistances(next.API.Sources), fib.Distance(next.API.DefaultDistance))
		d.cfg.API.Sources = next.API.Sources
		d.cfg.API.DefaultDistance = next.API.DefaultDistance
	case liveGracePeriod:
		d.api.SetGracePeriod(time.Duration(next.API.GracePeriod))
		d.cfg.API.GracePeriod = next.API.GracePeriod
	case liveHoldTimeout:
		d.fib.SetHoldTimeout(time.Duration(next.FIB.HoldTimeout))
		d.cfg.FIB.HoldTimeout = next.FIB.HoldTimeout
	default:
		return false
	}

	return true
}

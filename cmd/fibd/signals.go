package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fibd/fibd/internal/sdnotify"
)

// signalWatcher turns signals into actions: the first SIGINT or SIGTERM
// cancels the daemon's context, a second one exits at once, and SIGHUP
// requests a reload.
type signalWatcher struct {
	signals chan os.Signal
	done    chan struct{}

	// reload receives one value per SIGHUP. It is buffered by one, so a
	// burst of SIGHUPs during a reload causes one more reload, not many.
	reload chan struct{}
}

// exit is os.Exit, replaced in tests.
var exit = os.Exit

func watchSignals(cancel context.CancelFunc, log *slog.Logger, notifier *sdnotify.Notifier) *signalWatcher {
	w := &signalWatcher{
		signals: make(chan os.Signal, 4),
		done:    make(chan struct{}),
		reload:  make(chan struct{}, 1),
	}
	signal.Notify(w.signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

	go w.loop(cancel, log, notifier)

	return w
}

func (w *signalWatcher) loop(cancel context.CancelFunc, log *slog.Logger, notifier *sdnotify.Notifier) {
	stopping := false

	for {
		var sig os.Signal
		select {
		case sig = <-w.signals:
		case <-w.done:
			return
		}

		switch {
		case sig == syscall.SIGHUP:
			log.Info("received SIGHUP, reloading the configuration")
			select {
			case w.reload <- struct{}{}:
			default:
			}
		case !stopping:
			stopping = true
			log.Info("received signal, stopping; send it again to exit at once", "signal", sig.String())
			if err := notifier.Stopping(); err != nil {
				log.Warn("notify systemd of stopping failed", "error", err)
			}
			cancel()
		default:
			log.Warn("received second signal, exiting without cleanup", "signal", sig.String())
			exit(exitError)
		}
	}
}

// stop stops watching; signals get their default behaviour back.
func (w *signalWatcher) stop() {
	signal.Stop(w.signals)
	close(w.done)
}

package main

// wired reports whether daemon.go builds, so that the privileged restart
// test can run.
const wired = false

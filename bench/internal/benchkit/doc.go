// Package benchkit is what the programs under bench/ share, so that each
// of them measures the same way: the Debian tools they run (checked, or
// installed with apt-get), hellomgr built from the module, nginx started
// with deploy/nginx.conf on temporary paths and a free loopback port, wrk
// with a script that counts answers by status and by 10 ms of wall clock,
// free loopback ports, processes stopped by PID (never by name), and a
// process's CPU time and resident memory sampled from /proc.
//
// Nothing here prints: the programs decide what to report.
package benchkit

// Package proc reads what hellomgr needs to know about processes and TCP
// sockets from Linux's /proc file system: a process's resource usage (Read),
// who listens on a port (Holders), how many connections a port still serves
// (Established), and whether a process still holds a given socket
// (HoldsInode, SocketInode).
//
// It uses neither cgo nor a third-party module, only the files described in
// proc(5). Every function reads /proc afresh, but for ReadCached and
// UsageCached, which share one reading of each process per CacheInterval
// between their callers (`hellomgr status`, /probe and /metrics), and the
// boot time, read once since it does not change while the machine runs.
//
// The socket functions see only the network namespace of the calling
// process, and, unless it runs as root, only the file descriptors of
// processes of the same user.
package proc

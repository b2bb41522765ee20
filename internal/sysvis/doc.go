// Package sysvis is the socket-to-process table behind system visibility
// (NFStream's system_visibility_mode=1, issue #12): it tells which local
// process owns the socket that carried a flow.
//
// # What is done
//
// [Table] reads the capturing network namespace's socket tables
// (Root/net/tcp, tcp6, udp, udp6; Root defaults to /proc, whose net/ is the
// namespace of the reading process) and the processes under Root through
// github.com/prometheus/procfs (AllProcs, FileDescriptorTargets, Comm and,
// when asked for, NewStatus for the uid, Executable and CmdLine). [Table.Poll]
// maps each socket's full 5-tuple (protocol 6/17, local and remote address
// and port; IPv4-mapped IPv6 addresses are unmapped) to its inode and each
// inode to the owning PID. [Table.Lookup] matches a flow's 5-tuple in either
// direction: connected sockets exactly, unconnected UDP sockets (zero remote)
// for any remote, including sockets bound to 0.0.0.0 or [::] when the flow's
// endpoint is a local address (Options.LocalAddrs, a local address seen in
// the tables, loopback, multicast or broadcast).
//
// The net tables are parsed here rather than with procfs's FS.NetTCP and
// friends because those fail the whole file on one bad line; here a malformed
// line is skipped and counted (Stats.MalformedLines). The hex addresses are
// decoded for a little-endian host (amd64, arm64).
//
// Polling costs in proportion to change: the inode -> PID map is kept between
// polls; only new PIDs have their fd directory read; when a table lists an
// inode with no known owner, known processes are rescanned until all such
// inodes are found: first those whose fd directory changed since their last
// scan (its stat size is the open-fd count on Linux >= 6.2; its mtime changes
// in fixture trees), then socket owners, then the rest (a stat per process,
// and a full rescan only on kernels without the size hint). Inodes still
// unowned after that (other namespaces, processes we may not read; TIME_WAIT
// sockets have inode 0) are remembered as orphans and not searched for again
// while they stay listed.
// Dead PIDs and their inodes are dropped. A process that vanishes mid-scan or
// cannot be read (permission denied) is skipped and counted
// (Stats.ProcErrors); only an unreadable process list fails a poll.
//
// Owners are kept in a history: each socket with the owner polls saw it
// with, and the first and last poll that did. [Table.LookupFlow] matches
// a flow against the sockets seen while it was alive, those that left the
// tables less than Options.Retain ago included, and gives the owners of
// both ends when both are local. A PID reused by a new process (another
// start time in /proc/<pid>/stat) or a process that exec'd (another comm)
// is read again when a rescan meets it.
//
// Poll reads the tables and the new processes without the table's lock and
// holds it only to merge. [Table.Resolve] looks one new flow's socket up
// at once, between polls.
//
// [Attributor] runs the polls and lookups of a live capture and enriches
// its records (docs/system-visibility.md).
package sysvis
